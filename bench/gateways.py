"""Gateway processes for bench/gate_latency.py ``--gateways N``: real ``parking serve`` processes
on one shared MQTT subscription, one of which the bench kills in the middle of a run.

Each process is the production service (``python -m gateway.cli serve``): its own broker
account and client id, the same share group and lot filter, the same PostgreSQL database, its
own HTTP port (for ``/readyz``) and data directory. :meth:`GatewayProcesses.kill` sends SIGKILL:
no clean shutdown, no MQTT DISCONNECT, its in-flight events and locks die with it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class GatewayProcesses:
    """``users``: one (broker account, password) per process; ``env``: the shared settings."""

    users: list[tuple[str, str]]
    env: dict[str, str]
    data_dir: Path
    read_plates: bool
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    killed: list[int] = field(default_factory=list)

    def start(self, timeout_s: float = 120.0) -> None:
        for k, (user, password) in enumerate(self.users):
            port = free_port()
            env = (
                os.environ
                | self.env
                | {
                    "PARKING_MQTT_USERNAME": user,
                    "PARKING_MQTT_PASSWORD": password,
                    "PARKING_MQTT_CLIENT_ID": user,
                    "PARKING_HTTP_HOST": "127.0.0.1",
                    "PARKING_HTTP_PORT": str(port),
                    "PARKING_DATA_DIR": str(self.data_dir / f"gateway{k}"),
                }
            )
            log = (self.data_dir / f"gateway{k}.log").open("wb")
            cmd = [sys.executable, "-m", "gateway.cli", "serve"]
            if not self.read_plates:
                cmd.append("--no-lpr")
            self.procs.append(
                subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            )
            self.ports.append(port)
        deadline = time.monotonic() + timeout_s
        for k, port in enumerate(self.ports):
            while not self._ready(port):
                if self.procs[k].poll() is not None:
                    raise RuntimeError(f"gateway {k} exited: see {self.data_dir}/gateway{k}.log")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gateway {k} not ready in {timeout_s:.0f} s")
                time.sleep(0.2)

    @staticmethod
    def _ready(port: int) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def kill(self, k: int) -> None:
        """SIGKILL gateway ``k``: the hard way a process ends (OOM killer, power loss)."""
        self.procs[k].send_signal(signal.SIGKILL)
        self.procs[k].wait(10)
        self.killed.append(k)

    def stop(self) -> None:
        """SIGTERM the rest; they must end within seconds (SIGKILL after 20 s)."""
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
