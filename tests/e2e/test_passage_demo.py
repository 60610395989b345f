"""`parking demo --duration N` in-process on the fresh-machine path: amqtt broker (no Mosquitto
binary needed), SQLite, mock tax authority, camera-sent plate text, compressed time."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.broker import free_port
from gateway.demo import DemoOptions, run_demo

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_demo_runs_for_its_duration_and_summarises(tmp_path: Path) -> None:
    lines: list[str] = []
    result = run_demo(
        DemoOptions(
            data_dir=tmp_path / "demo",
            duration_s=20,
            http_port=free_port(),
            tax_port=free_port(),
            broker="amqtt",
            read_plates=False,
            arrivals_per_hour=400,
            time_scale=900,
            drain_s=30,
        ),
        echo=lines.append,
    )
    assert result is not None
    assert any("mock tax authority" in line for line in lines)
    # The sign-ins for the dashboard and the portal are printed with their passwords.
    from gateway.auth.demo import DEMO_LOGINS

    for username, password, role in DEMO_LOGINS:
        assert f"  login ({role}): {username} / {password}" in lines
    assert result["passages"] > 5
    gates = result["gates"]
    assert gates["unanswered"] == 0 and gates["commands"] == result["passages"]
    assert result["barrier_opens"] == gates["barrier_opens"] > 0
    assert result["debits"] > 0
    # Every debit got an invoice and the mock accepted each one.
    assert result["invoices_issued"] == result["debits"]
    assert result["invoices_accepted"] == result["invoices_issued"]
    assert 0 < result["revenue_vnd"] <= gates["revenue_vnd"]


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmdline:
            found.append(int(proc.name))
    return found


def test_demo_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    data_dir = tmp_path / "demo-sigint"
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "parking"),
            "demo",
            "--camera-text",
            "--broker",
            "mosquitto",
            "--data-dir",
            str(data_dir),
            "--http-port",
            str(free_port()),
            "--tax-port",
            str(free_port()),
        ],
        env={**os.environ, "PARKING_DATA_DIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if "Ctrl-C to stop" in line:
            break
    assert any("Ctrl-C to stop" in line for line in seen), "".join(seen)
    assert _processes_mentioning(str(data_dir / "mosquitto")), "the demo runs its own broker"
    time.sleep(3)  # some traffic
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, "".join(seen) + out
    assert "stopping" in out
    assert _processes_mentioning(str(data_dir / "mosquitto")) == []  # broker stopped too
