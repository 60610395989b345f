"""``parking edge run`` as systemd runs it: it serves the lanes of gate.toml (metrics on its
port), stops cleanly within seconds on SIGTERM or SIGINT, and refuses a bad config naming the
key."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.allowlist import public_key_b64
from tests.conftest import free_port
from tests.integration.gateway.private_broker import private_mosquitto

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def gate_toml(tmp: Path, broker_port: int, metrics_port: int) -> Path:
    frames = tmp / "frames"
    frames.mkdir(exist_ok=True)
    cv2.imwrite(str(frames / "0.jpg"), np.full((360, 640, 3), 90, np.uint8))
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = public_key_b64(Ed25519PrivateKey.generate())
    path = tmp / "gate.toml"
    path.write_text(
        f"""
lot_id = "lot-run"
data_dir = "{tmp / "data"}"
metrics_port = {metrics_port}

[broker]
host = "127.0.0.1"
port = {broker_port}

[devices.sim]
kind = "memory"

[[lanes]]
gate_id = "in1"
direction = "entry"
username = "gate/lot-run/in1"
password = "pw"
camera = {{ kind = "folder", path = "{frames}", order = "cycle" }}
trigger = {{ kind = "loop", input = {{ device = "sim", address = 0 }} }}
barrier = {{ open = {{ device = "sim", address = 16 }} }}

[offline]
allowlist_public_key = "{key}"
"""
    )
    return path


def start(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "edge", "run", "--config", str(config)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def metrics_text(port: int, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as r:
                return r.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_run_serves_and_stops_within_seconds(tmp_path: Path, sig: signal.Signals) -> None:
    broker_port, metrics_port = free_port(), free_port()
    with private_mosquitto(tmp_path / "broker", broker_port):
        proc = start(gate_toml(tmp_path, broker_port, metrics_port))
        try:
            text = metrics_text(metrics_port)
            assert "edge_allowlist_age_seconds -1.0" in text  # no allow-list received yet
            assert "edge_offline_exposure_vnd 0.0" in text
            proc.send_signal(sig)
            started = time.monotonic()
            out, _ = proc.communicate(timeout=15)
            assert proc.returncode == 0, out.decode()
            assert time.monotonic() - started < 10
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
    log = out.decode()
    assert "edge of lot lot-run running" in log and "edge of lot lot-run stopped" in log
    assert "Traceback" not in log
    assert (tmp_path / "data" / "buffers" / "in1.sqlite").exists()


def test_run_refuses_a_bad_config_naming_the_key(tmp_path: Path) -> None:
    config = gate_toml(tmp_path, free_port(), free_port())
    config.write_text(config.read_text().replace('direction = "entry"', 'direction = "sideways"'))
    proc = start(config)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "lanes[0] (gate in1).direction" in out.decode()
    missing = start(tmp_path / "nope.toml")
    out, _ = missing.communicate(timeout=60)
    assert missing.returncode == 1 and "no such config file" in out.decode()
