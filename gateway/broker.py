"""The broker the one-command demo starts for itself.

Preferred: a managed ``mosquitto`` subprocess with a generated configuration (MQTT v5, shared
subscriptions, per-gate credentials and ACLs: the same broker as production). When the machine
has no ``mosquitto`` binary, the pure-Python amqtt broker runs in-process on its own thread; it
speaks MQTT 3.1.1 only, which the gate protocol supports because frames travel in the payload.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from gateway.mosquitto_conf import GateCredential, write_config

log = logging.getLogger(__name__)


class Broker(Protocol):
    host: str
    port: int
    protocol: Literal["v5", "v311"]
    authenticated: bool

    def start(self) -> None: ...
    def stop(self) -> None: ...


def dying_with_parent(argv: list[str]) -> list[str]:
    """``argv`` run so that the child gets SIGTERM when its parent dies, however it dies
    (Linux's parent-death signal, set by util-linux's ``setpriv`` before it execs ``argv``).

    A demo stopped with SIGKILL, or killed by a second signal, used to leave its Mosquitto
    running for ever (it runs in a session of its own, out of reach of the terminal's Ctrl-C).
    Mosquitto saves its store on SIGTERM. Linux sends the signal when the *thread* that started
    the child ends: start children from a thread that lives as long as they should (the main
    thread). Without ``setpriv`` (not Linux), ``argv`` unchanged.
    """
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", *argv] if setpriv else list(argv)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


@dataclass
class MosquittoBroker:
    """``mosquitto -c <generated config>`` as a child process."""

    directory: Path
    port: int
    service_users: Mapping[str, str]
    gates: Iterable[GateCredential] = ()
    host: str = "127.0.0.1"
    binary: str = "mosquitto"
    protocol: Literal["v5", "v311"] = "v5"
    authenticated: bool = True
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        conf = write_config(
            self.directory,
            port=self.port,
            service_users=self.service_users,
            gates=self.gates,
            bind=self.host,
        )
        self._log = (self.directory / "mosquitto.log").open("ab")
        # Its own session: a Ctrl-C at the terminal reaches the demo, which then stops the
        # broker last, instead of the broker vanishing under the gates while they shut down.
        # And it dies with the demo however the demo ends (SIGKILL included).
        self._proc = subprocess.Popen(
            dying_with_parent([self.binary, "-c", str(conf)]),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for_port(self.host, self.port)
        except TimeoutError:
            self.stop()
            raise
        if self._proc.poll() is not None:
            raise RuntimeError(f"mosquitto exited; see {self.directory / 'mosquitto.log'}")
        log.info("mosquitto started on %s:%d (pid %d)", self.host, self.port, self._proc.pid)

    def kill(self) -> None:
        """``kill -9``: no save of the persistent store (fault drills: what the broker had
        acknowledged since its last autosave is gone, and the gates resend it)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(5)
        self._proc = None
        if getattr(self, "_log", None) is not None:
            self._log.close()

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None
        if getattr(self, "_log", None) is not None:
            self._log.close()


@dataclass
class AmqttBroker:
    """amqtt on a private event loop thread (MQTT 3.1.1, anonymous, 127.0.0.1 only)."""

    port: int
    host: str = "127.0.0.1"
    protocol: Literal["v5", "v311"] = "v311"
    authenticated: bool = False
    _thread: threading.Thread | None = field(default=None, repr=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)
    _broker: Any = field(default=None, repr=False)

    def start(self) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)

            async def boot() -> None:
                from amqtt.broker import Broker as _Amqtt

                config = {
                    "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
                    "plugins": {
                        "amqtt.plugins.authentication.AnonymousAuthPlugin": {
                            "allow_anonymous": True
                        }
                    },
                }
                self._broker = _Amqtt(config, loop=loop)
                await self._broker.start()

            try:
                loop.run_until_complete(boot())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name="amqtt-broker", daemon=True)
        self._thread.start()
        ready.wait(15)
        if failure:
            raise RuntimeError(f"amqtt broker failed to start: {failure[0]}")
        wait_for_port(self.host, self.port)
        log.info("amqtt broker started on %s:%d", self.host, self.port)

    def stop(self) -> None:
        if self._loop is None or self._broker is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
        try:
            fut.result(10)
        except Exception as exc:
            log.warning("amqtt shutdown: %s", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._broker = None


def embedded_broker(
    directory: Path,
    *,
    port: int | None = None,
    service_users: Mapping[str, str],
    gates: Iterable[GateCredential],
    prefer: Literal["auto", "mosquitto", "amqtt"] = "auto",
) -> MosquittoBroker | AmqttBroker:
    """The demo's broker: Mosquitto when installed (or asked for), else amqtt."""
    port = port or free_port()
    binary = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if prefer == "mosquitto" or (prefer == "auto" and binary):
        if binary is None:
            raise RuntimeError("mosquitto is not installed")
        return MosquittoBroker(directory, port, service_users, list(gates), binary=binary)
    return AmqttBroker(port)
