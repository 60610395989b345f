"""gate.toml: a good file loads; every kind of mistake is a ConfigError naming its key."""

from __future__ import annotations

import base64
import os
import tomllib
from pathlib import Path

import pytest

from edge.config import ConfigError, load_config
from edge.config_draft import GateAccount, draft_config, read_gate_accounts
from tests.edge_helpers import write_gate_account

GOOD = """
lot_id = "hn-central"
data_dir = "/tmp/edge"

[broker]
host = "10.0.0.2"
port = 8883
tls = true

[devices.adam]
kind = "modbus"
host = "10.0.0.5"
unit_id = 3

[devices.sim]
kind = "memory"

[[lanes]]
gate_id = "g1"
direction = "entry"
username = "gate/hn-central/g1"
password = "secret"

[lanes.camera]
kind = "rtsp"
url = "rtsp://admin:pw@10.0.0.64:554/Streaming/Channels/101"
transport = "udp"

[lanes.trigger]
kind = "loop"
input = { device = "adam", address = 0 }

[lanes.barrier]
open = { device = "adam", address = 16 }
close = { device = "adam", address = 17 }
occupied = { device = "adam", address = 1, active_low = true }
manual_open = { device = "adam", address = 2, table = "coil" }
pulse_s = 0.8

[lanes.display]
kind = "modbus"
device = "adam"
address = 100

[[lanes]]
gate_id = "g2"
direction = "exit"
username = "gate/hn-central/g2"
password = "secret2"

[lanes.camera]
kind = "snapshot"
url = "http://10.0.0.65/ISAPI/Streaming/channels/101/picture"
username = "admin"
password = "pw"

[lanes.trigger]
kind = "loop"
input = { device = "sim", address = 0 }

[lanes.barrier]
open = { device = "sim", address = 0 }
"""


def write(tmp_path: Path, text: str, name: str = "gate.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    return str(caught.value)


def test_a_complete_file_loads_with_its_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.lot_id == "hn-central"
    assert (cfg.broker.host, cfg.broker.port, cfg.broker.tls) == ("10.0.0.2", 8883, True)
    g1, g2 = cfg.lanes
    assert g1.camera.kind == "rtsp" and g1.camera.transport == "udp" and g1.camera.frames == 2
    assert g1.barrier.pulse_s == 0.8 and g1.barrier.occupied is not None
    assert g1.barrier.occupied.active_low and g1.barrier.manual_open is not None
    assert g1.barrier.manual_open.table == "coil"
    assert g2.display.kind == "log" and g2.barrier.pulse_s == 0.5
    assert cfg.devices["adam"].kind == "modbus" and cfg.devices["adam"].port == 502
    assert cfg.reader.craft_fallback is False  # a gate box never loads torch unless asked
    assert cfg.offline.decide_after_s == 1.5 and cfg.offline.allowlist_public_key is None
    assert cfg.lane("g2").direction == "exit"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('lot_id = "hn-central"', ""), "lot_id: Field required"),
        (('host = "10.0.0.2"', "host = 5"), "broker.host: Input should be a valid string"),
        (("pulse_s = 0.8", "pulse_ms = 800"), "lanes[0] (gate g1).barrier.pulse_ms: unknown key"),
        (('direction = "exit"', 'direction = "out"'), "lanes[1] (gate g2).direction: Input should"),
        (
            ('url = "rtsp://admin', 'url = "http://admin'),
            "lanes[0] (gate g1).camera.url: must start with rtsp:// or rtsps://",
        ),
        (("unit_id = 3", "unit_id = 300"), "devices.adam.unit_id: Input should be less than"),
        (
            ('input = { device = "sim"', 'input = { device = "plc"'),
            "lanes[1] (gate g2).trigger.input.device: no device 'plc' under [devices]",
        ),
        (
            ('kind = "modbus"\ndevice = "adam"', 'kind = "modbus"\ndevice = "cam"'),
            "lanes[0] (gate g1).display.device: no device 'cam'",
        ),
        (
            ('gate_id = "g2"', 'gate_id = "g1"'),
            "lanes[1] (gate g1).gate_id: gate g1 appears twice",
        ),
        (
            ('occupied = { device = "adam", address = 1, active_low = true }\n', ""),
            "lanes[0] (gate g1).barrier.occupied: a barrier with a close output needs an "
            "occupied input",
        ),
        (
            ('username = "gate/hn-central/g2"\npassword = "secret2"\n', ""),
            "lanes[1] (gate g2): the gate's broker account is missing",
        ),
        (
            (
                '[lanes.trigger]\nkind = "loop"\ninput = { device = "sim", address = 0 }',
                '[lanes.trigger]\nkind = "motion"',
            ),
            "lanes[1] (gate g2).trigger.kind: a motion trigger watches a video stream",
        ),
        (('kind = "snapshot"', 'kind = "webcam"'), "lanes[1] (gate g2).camera: Input tag 'webcam'"),
    ],
)
def test_each_mistake_names_its_key(tmp_path: Path, change: tuple[str, str], expected: str) -> None:
    old, new = change
    assert old in GOOD
    assert expected in error_of(tmp_path, GOOD.replace(old, new, 1))


def test_every_mistake_of_the_file_is_listed_at_once(tmp_path: Path) -> None:
    text = GOOD.replace("pulse_s = 0.8", "pulse_s = -1").replace("port = 8883", 'port = "x"')
    message = error_of(tmp_path, text)
    assert "broker.port" in message and "lanes[0] (gate g1).barrier.pulse_s" in message


def test_placeholders_left_by_the_draft_are_named(tmp_path: Path) -> None:
    text = GOOD.replace('host = "10.0.0.5"', 'host = "CHANGE-ME"')
    assert "devices.adam.host: still CHANGE-ME" in error_of(tmp_path, text)


def test_a_missing_file_and_bad_toml_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml")
    assert "not valid TOML" in error_of(tmp_path, GOOD + "\n[broker\n")
    assert "line" in error_of(tmp_path, 'lot_id = "a"\nthis is not toml\n')


def test_the_allowlist_key_must_be_an_ed25519_public_key(tmp_path: Path) -> None:
    good_key = base64.b64encode(bytes(range(32))).decode()
    cfg = load_config(write(tmp_path, GOOD + f'\n[offline]\nallowlist_public_key = "{good_key}"\n'))
    assert cfg.offline.allowlist_public_key == good_key
    short = base64.b64encode(b"12345").decode()
    message = error_of(tmp_path, GOOD + f'\n[offline]\nallowlist_public_key = "{short}"\n')
    assert "offline.allowlist_public_key: an Ed25519 public key is 32 bytes" in message


def credentials(tmp_path: Path, lot: str, gate: str, password: str = "pw") -> Path:
    return write_gate_account(tmp_path, lot, gate, password)


def test_a_lane_may_take_its_account_from_the_gate_file(tmp_path: Path) -> None:
    credentials(tmp_path, "hn-central", "g2", "from-file")
    text = GOOD.replace(
        'username = "gate/hn-central/g2"\npassword = "secret2"',
        'credentials_file = "gates/hn-central/g2.json"',
    )
    cfg = load_config(write(tmp_path, text))
    assert (cfg.lanes[1].username, cfg.lanes[1].password) == ("gate/hn-central/g2", "from-file")


def test_another_gates_account_file_is_refused(tmp_path: Path) -> None:
    credentials(tmp_path, "hn-central", "g9")
    text = GOOD.replace(
        'username = "gate/hn-central/g2"\npassword = "secret2"',
        'credentials_file = "gates/hn-central/g9.json"',
    )
    message = error_of(tmp_path, text)
    assert "lanes[1] (gate g2).credentials_file" in message
    assert "account of gate hn-central/g9, not hn-central/g2" in message
    missing = GOOD.replace(
        'username = "gate/hn-central/g2"\npassword = "secret2"',
        'credentials_file = "gates/nope.json"',
    )
    assert "lanes[1] (gate g2).credentials_file: no such file" in error_of(tmp_path, missing)


def test_a_config_with_passwords_readable_by_others_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, GOOD)
    os.chmod(path, 0o644)
    load_config(path)
    assert "readable by every user" in caplog.text


def accounts(lot: str = "lot-a") -> list[GateAccount]:
    return [GateAccount(lot, g, f"gate/{lot}/{g}", f"pw-{g}", 1884) for g in ("in1", "out1")]


def test_the_draft_parses_once_the_installer_filled_it_in(tmp_path: Path) -> None:
    text = draft_config(accounts(), "10.1.1.1", {"in1": "entry"})
    message = error_of(tmp_path, text)
    # what only the installer knows is named, and nothing else
    for key in ("devices.io-in1.host", "lanes[0] (gate in1).camera.url", "devices.io-out1.host"):
        assert key in message
    assert "lanes[1] (gate out1).direction" in message
    assert "lanes[0] (gate in1).direction" not in message
    filled = (
        text.replace('host = "CHANGE-ME"', 'host = "192.168.1.50"')
        .replace('url = "CHANGE-ME"', 'url = "rtsp://192.168.1.64/stream1"')
        .replace('direction = "CHANGE-ME"', 'direction = "exit"')
    )
    cfg = load_config(write(tmp_path, filled))
    assert [(lane.gate_id, lane.direction, lane.username, lane.password) for lane in cfg.lanes] == [
        ("in1", "entry", "gate/lot-a/in1", "pw-in1"),
        ("out1", "exit", "gate/lot-a/out1", "pw-out1"),
    ]
    assert (cfg.broker.host, cfg.broker.port) == ("10.1.1.1", 1884)
    assert cfg.lanes[0].barrier.open.device == "io-in1"


def test_a_password_with_quotes_survives_the_draft(tmp_path: Path) -> None:
    tricky = [GateAccount("lot-a", "g1", "gate/lot-a/g1", 'p"w\\x\u00e9', 1883)]
    text = draft_config(tricky, "h", {"g1": "entry"}).replace('"CHANGE-ME"', '"rtsp://x"')
    data = tomllib.loads(text)
    assert data["lanes"][0]["password"] == 'p"w\\x\u00e9'


def test_gate_accounts_are_read_from_the_mqtt_config_output(tmp_path: Path) -> None:
    credentials(tmp_path, "lot-a", "g1")
    credentials(tmp_path, "lot-a", "g2")
    assert [a.gate_id for a in read_gate_accounts(tmp_path)] == ["g1", "g2"]
    assert [a.gate_id for a in read_gate_accounts(tmp_path / "gates" / "lot-a")] == ["g1", "g2"]
    credentials(tmp_path, "lot-b", "g1")
    with pytest.raises(ConfigError, match=r"several lots.*--lot"):
        read_gate_accounts(tmp_path)
    assert [a.lot_id for a in read_gate_accounts(tmp_path, "lot-b")] == ["lot-b"]
    with pytest.raises(ConfigError, match="no gate accounts of lot lot-c"):
        read_gate_accounts(tmp_path, "lot-c")
