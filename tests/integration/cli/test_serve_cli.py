"""``parking serve`` as the real process: started before its broker, it serves the API, says it
is not ready, connects once the broker is up, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from gateway import migrate
from gateway.broker import free_port, wait_for_port
from tests.e2e.passage_stack import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def _status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return None


def test_serve_waits_for_a_late_broker_and_stops_on_sigterm(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'parking.db'}"
    migrate.upgrade(url)
    mqtt_port, http_port = free_port(), free_port()
    env = {
        **os.environ,
        "PARKING_DATA_DIR": str(tmp_path),
        "PARKING_DATABASE_URL": url,
        "PARKING_MQTT_PORT": str(mqtt_port),
        "PARKING_MQTT_CLIENT_ID": f"serve-test-{mqtt_port}",
        "PARKING_HTTP_PORT": str(http_port),
    }
    base = f"http://127.0.0.1:{http_port}"
    serve = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--no-lpr"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    broker = None
    try:
        wait_until(lambda: _status(f"{base}/livez") == 200, 60, "the API without a broker")
        assert _status(f"{base}/readyz") == 503  # no broker yet: alive, not ready
        assert serve.poll() is None
        conf = tmp_path / "mosquitto.conf"
        conf.write_text(f"listener {mqtt_port} 127.0.0.1\nallow_anonymous true\n")
        broker = subprocess.Popen(
            ["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port("127.0.0.1", mqtt_port)
        wait_until(lambda: _status(f"{base}/readyz") == 200, 60, "ready once the broker is up")
        serve.send_signal(signal.SIGTERM)
        out, _ = serve.communicate(timeout=30)
        assert serve.returncode == 0, out.decode(errors="replace")[-2000:]
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait(10)
        if broker is not None:
            broker.terminate()
            broker.wait(10)


def test_serve_stopped_while_its_plate_readers_load_exits_cleanly(tmp_path: Path) -> None:
    """SIGINT while the reader pool starts (models loading for seconds) is not lost: serve
    stops once the pool is up, with exit code 0, and leaves no process behind."""
    from tests.e2e.test_passage_demo import _descendants, _still_running

    url = f"sqlite:///{tmp_path / 'parking.db'}"
    migrate.upgrade(url)
    env = {
        **os.environ,
        "PARKING_DATA_DIR": str(tmp_path),
        "PARKING_DATABASE_URL": url,
        "PARKING_MQTT_PORT": str(free_port()),  # no broker: the consumer would wait for it
        "PARKING_MQTT_CLIENT_ID": f"serve-sigint-{uuid.uuid4().hex[:8]}",
        "PARKING_HTTP_PORT": str(free_port()),
        "PARKING_LPR_WORKERS": "1",
    }
    serve = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:

        def reader_started() -> bool:
            return any("spawn_main" in c for _, c in _descendants(serve.pid).values())

        wait_until(reader_started, 60, "the plate-reader process")
        time.sleep(0.5)  # past the spawning itself (Ctrl-C is ignored only while forking)
        children = _descendants(serve.pid)
        serve.send_signal(signal.SIGINT)
        out, _ = serve.communicate(timeout=90)
        assert serve.returncode == 0, out.decode(errors="replace")[-2000:]
        assert "serving http" not in out.decode(errors="replace")  # it never went on to serve
        wait_until(lambda: not _still_running(children), 15, "children gone")
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait(10)
