"""A first gate.toml for a lot, drafted from the broker accounts ``parking mqtt config`` wrote.

The installer knows the cameras and the wiring; the center knows the lot, its gates and their
broker accounts. The draft carries what the center knows (lot id, each gate's account, the
broker's port) and marks what only the installer can fill in as ``CHANGE-ME``: the edge
refuses to start, naming each such key, until every one is set. A gate whose direction was not
given is left ``CHANGE-ME`` too: an entry lane configured as an exit would bill every car
wrongly, so it is never guessed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from edge.config import PLACEHOLDER, ConfigError


@dataclass(frozen=True)
class GateAccount:
    lot_id: str
    gate_id: str
    username: str
    password: str
    port: int


def read_gate_accounts(directory: Path, lot_id: str | None = None) -> list[GateAccount]:
    """The gate files under ``directory`` (the ``--out`` of ``parking mqtt config``, or its
    ``gates/LOT`` folder), of one lot."""
    folders = (
        [directory] if any(directory.glob("*.json")) and not (directory / "gates").is_dir() else []
    )
    if not folders:
        lots = sorted(p for p in (directory / "gates").glob("*") if p.is_dir())
        if lot_id is not None:
            lots = [p for p in lots if p.name == lot_id]
        if not lots:
            raise ConfigError(
                f"{directory}: no gate accounts"
                + (f" of lot {lot_id}" if lot_id else "")
                + " (expected gates/LOT/GATE.json from `parking mqtt config --out`)"
            )
        if len(lots) > 1:
            raise ConfigError(
                f"{directory}: gate accounts of several lots ({', '.join(p.name for p in lots)}): "
                "say which with --lot"
            )
        folders = lots
    accounts = []
    for path in sorted(folders[0].glob("*.json")):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            account = GateAccount(
                str(raw["lot_id"]),
                str(raw["gate_id"]),
                str(raw["username"]),
                str(raw["password"]),
                int(raw.get("port", 1883)),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}: not a gate account file ({exc})") from None
        accounts.append(account)
    if not accounts:
        raise ConfigError(f"{folders[0]}: no gate account files")
    lots_seen = {a.lot_id for a in accounts}
    if len(lots_seen) > 1 or (lot_id is not None and lots_seen != {lot_id}):
        raise ConfigError(f"{folders[0]}: accounts of lots {sorted(lots_seen)}, expected one lot")
    return accounts


def _s(value: str) -> str:
    """A TOML basic string (JSON's escapes are a subset of TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def draft_config(
    accounts: Sequence[GateAccount],
    broker_host: str | None,
    directions: Mapping[str, str],
    data_dir: str = "/var/lib/parking-edge",
) -> str:
    """The text of gate.toml (comments included) for these gates."""
    lot_id = accounts[0].lot_id
    host = broker_host or PLACEHOLDER
    lines = [
        f"# gate.toml of lot {lot_id}: read by `parking edge check` and the edge process.",
        "# Keep it 0600: it holds the gates' broker passwords. Every CHANGE-ME must be set.",
        f"lot_id = {_s(lot_id)}",
        f"data_dir = {_s(data_dir)}",
        "# metrics_port = 9108  # Prometheus metrics (edge_*) on 127.0.0.1",
        "",
        "[broker]",
        f"host = {_s(host)}  # the broker as the gate box reaches it",
        f"port = {accounts[0].port}",
        "tls = false  # true with ca_file = ... when the listener has a certificate",
        "",
        "[reader]",
        'recognizer = "auto"',
        "craft_fallback = false  # true needs parking[easyocr] (torch)",
        "",
        "[offline]",
        "enabled = true",
        "decide_after_s = 1.5",
        '# allowlist_public_key = "..."  # `parking mqtt allowlist-key` on the central system',
        "#                                 # (base64 Ed25519); without it the edge never opens",
        "#                                 # on its own: every car waits for the center",
        "",
    ]
    for account in accounts:
        gate = account.gate_id
        device = f"io-{gate}"
        lines += [
            f"# I/O module of gate {gate}: an ADAM-6050 takes inputs at 0-11 and outputs at 16-21,",
            "# a Moxa ioLogik E1212 inputs at 0-15 and outputs at 0-7.",
            f"[devices.{_s(device)}]",
            'kind = "modbus"',
            f"host = {_s(PLACEHOLDER)}",
            "port = 502",
            "unit_id = 1",
            "",
            "[[lanes]]",
            f"gate_id = {_s(gate)}",
            f"direction = {_s(directions.get(gate, PLACEHOLDER))}  # entry or exit",
            f"username = {_s(account.username)}",
            f"password = {_s(account.password)}",
            "",
            "[lanes.camera]",
            'kind = "rtsp"  # or "snapshot" (url = "http://.../snapshot.jpg") or "folder"',
            f"url = {_s(PLACEHOLDER)}  # e.g. rtsp://user:pass@192.168.1.64:554/Streaming/Channels/101",
            "frames = 2",
            "",
            "[lanes.trigger]",
            'kind = "loop"  # or "motion" with region = [x, y, width, height] (fractions)',
            f"input = {{ device = {_s(device)}, address = 0 }}",
            "debounce_s = 0.1",
            "",
            "[lanes.barrier]",
            f"open = {{ device = {_s(device)}, address = 16 }}",
            "pulse_s = 0.5",
            f"occupied = {{ device = {_s(device)}, address = 1 }}  # vehicle under the arm",
            f"manual_open = {{ device = {_s(device)}, address = 2 }}  # the attendant's button",
            "",
            "[lanes.display]",
            'kind = "log"  # or "modbus" with device, address, registers',
            "",
        ]
    return "\n".join(lines)


def simulated_config(
    lot_id: str,
    lanes: Mapping[str, str],
    frames: Path,
    *,
    data_dir: Path,
    broker_host: str = "127.0.0.1",
    broker_port: int = 1883,
    camera_frames: int = 2,
) -> str:
    """gate.toml for lanes on simulated I/O (one memory device) whose camera replays the JPEG
    files of ``frames`` in name order: benches, demos and tests of a whole edge process.
    Lane i's loop is input 4i, its "vehicle under the arm" input 4i+1, its barrier output 16+i;
    each gate's password is ``pw-GATE``."""
    lines = [
        f"lot_id = {_s(lot_id)}",
        f"data_dir = {_s(str(data_dir))}",
        "[broker]",
        f"host = {_s(broker_host)}",
        f"port = {broker_port}",
        "[devices.sim]",
        'kind = "memory"',
    ]
    for i, (gate, direction) in enumerate(lanes.items()):
        lines += [
            "[[lanes]]",
            f"gate_id = {_s(gate)}",
            f"direction = {_s(direction)}",
            f"username = {_s(f'gate/{lot_id}/{gate}')}",
            f"password = {_s(f'pw-{gate}')}",
            "[lanes.camera]",
            'kind = "folder"',
            'order = "cycle"',
            f"path = {_s(str(frames))}",
            f"frames = {camera_frames}",
            "[lanes.trigger]",
            'kind = "loop"',
            f'input = {{ device = "sim", address = {4 * i} }}',
            "[lanes.barrier]",
            f'open = {{ device = "sim", address = {16 + i} }}',
            f'occupied = {{ device = "sim", address = {4 * i + 1} }}',
        ]
    return "\n".join(lines) + "\n"
