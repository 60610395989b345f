"""``parking edge config`` and ``parking edge check`` as an installer runs them: a real broker
with gate accounts, a Modbus module (pymodbus's server) and a camera folder."""

from __future__ import annotations

import stat
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from gateway.cli import app
from tests.conftest import free_port
from tests.edge_helpers import write_gate_account
from tests.integration.edge.modbus_server import modbus_server
from tests.integration.gateway.private_broker import private_mosquitto

pytestmark = pytest.mark.integration

LOT = "lot-cli"


def gate_files(out: Path, passwords: dict[str, str], port: int) -> Path:
    """What `parking mqtt config --out OUT` leaves for the gates of one lot."""
    for gate, password in passwords.items():
        write_gate_account(out, LOT, gate, password, port)
    return out


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def fill_in(text: str, modbus_port: int, frames: Path) -> str:
    """What the installer does to the draft: the module's address, the camera, a direction."""
    return (
        text.replace('host = "CHANGE-ME"\nport = 502', f'host = "127.0.0.1"\nport = {modbus_port}')
        .replace(
            'kind = "rtsp"  # or "snapshot" (url = "http://.../snapshot.jpg") or "folder"',
            f'kind = "folder"\norder = "cycle"\npath = "{frames}"',
        )
        .replace(
            'url = "CHANGE-ME"  # e.g. rtsp://user:pass@192.168.1.64:554/Streaming/Channels/101\n',
            "",
        )
        .replace('direction = "CHANGE-ME"', 'direction = "exit"')
    )


@pytest.fixture()
def frames(tmp_path: Path) -> Path:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(2):
        img = np.full((720, 1280, 3), 60 + 40 * i, np.uint8)
        cv2.imwrite(str(folder / f"{i}.jpg"), img)
    return folder


def test_draft_fill_in_and_check_a_gate_box(tmp_path: Path, frames: Path) -> None:
    port = free_port()
    passwords = {"in1": "pw-in1", "out1": "pw-out1"}
    users = {f"gate/{LOT}/{g}": p for g, p in passwords.items()}
    out = gate_files(tmp_path / "mqtt", passwords, port)
    gate_toml = tmp_path / "etc" / "gate.toml"

    code, text = run(
        "edge", "config", "--credentials", str(out), "--out", str(gate_toml),
        "--broker-host", "127.0.0.1", "--entry", "in1",
    )  # fmt: skip
    assert code == 0, text
    assert "5 values to fill in" in text  # two module hosts, two camera URLs, a direction
    assert stat.S_IMODE(gate_toml.stat().st_mode) == 0o600

    code, text = run("edge", "check", "--config", str(gate_toml))
    assert code == 1
    assert "lanes[1] (gate out1).direction" in text and "still CHANGE-ME" in text

    with (
        private_mosquitto(tmp_path / "broker", port, users=users),
        modbus_server() as module,
    ):
        gate_toml.write_text(fill_in(gate_toml.read_text(), module.port, frames))
        module.inputs[0] = True  # a car on the loop of both lanes (one module here)
        code, text = run(
            "edge", "check", "--config", str(gate_toml), "--lane", "out1",
            "--open", "--display", "Mời qua", "--save", str(tmp_path / "shots"),
        )  # fmt: skip
        assert code == 0, text
        assert f"ok    broker       gate/{LOT}/out1 logged in at 127.0.0.1:{port}" in text
        assert "2 frames 1280x720" in text
        assert "ok    loop         io-out1 discrete_input 0: ACTIVE" in text
        assert "ok    barrier      pulsed 0.5 s" in text
        assert "lane in1" not in text  # --lane out1 only
        assert len(module.pulses(16)) == 1  # the barrier moved once, because asked to
        assert module.register_writes == []  # the draft's display is the log
        assert sorted(p.name for p in (tmp_path / "shots").iterdir()) == [
            "out1-1.jpg",
            "out1-2.jpg",
        ]

        code, text = run("edge", "check", "--config", str(gate_toml))
        assert code == 0, text
        assert len(module.pulses(16)) == 1  # no --open: nothing moved

        gate_toml.write_text(gate_toml.read_text().replace('"pw-in1"', '"not-the-password"'))
        code, text = run("edge", "check", "--config", str(gate_toml))
        assert code == 1
        assert f"FAIL  broker       gate/{LOT}/in1 refused: Not authorized" in text
        assert "1 checks failed" in text


def test_a_module_that_is_off_fails_the_check_naming_it(tmp_path: Path, frames: Path) -> None:
    out = gate_files(tmp_path / "mqtt", {"g1": "pw"}, 1883)
    gate_toml = tmp_path / "gate.toml"
    code, text = run(
        "edge", "config", "--credentials", str(out), "--out", str(gate_toml), "--entry", "g1",
        "--broker-host", "127.0.0.1",
    )  # fmt: skip
    assert code == 0, text
    gate_toml.write_text(fill_in(gate_toml.read_text(), free_port(), frames))
    code, text = run("edge", "check", "--config", str(gate_toml), "--open")
    assert code == 1
    assert "FAIL  loop         modbus io-g1 (127.0.0.1:" in text and "cannot connect" in text
    assert "FAIL  barrier      could not be raised" in text
    assert "Traceback" not in text


def test_a_missing_config_is_one_clear_line(tmp_path: Path) -> None:
    code, text = run("edge", "check", "--config", str(tmp_path / "nope.toml"))
    assert code == 1
    assert f"error: {tmp_path / 'nope.toml'}: no such config file" in text
    code, text = run("edge", "config", "--credentials", str(tmp_path), "--out", str(tmp_path / "x"))
    assert code == 1 and "no gate accounts" in text
