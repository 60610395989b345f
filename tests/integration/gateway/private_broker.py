"""A throw-away Mosquitto with a configuration of the test's choosing (a port of its own)."""

from __future__ import annotations

import getpass
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gateway.broker import dying_with_parent, wait_for_port
from gateway.mosquitto_conf import password_file


@contextmanager
def private_mosquitto(
    directory: Path,
    port: int,
    listener: list[str] | None = None,
    users: dict[str, str] | None = None,
) -> Iterator[tuple[str, int]]:
    """``mosquitto -c`` on 127.0.0.1:``port``, no persistence; ``listener`` lines go after the
    ``listener`` line (e.g. TLS settings); with ``users`` (name: password) only they may
    connect, else anyone. Yields (host, port); stopped on exit."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "mosquitto.conf"
    auth = ["allow_anonymous true"]
    if users:
        (directory / "passwd").write_text(password_file(users))
        (directory / "passwd").chmod(0o600)
        auth = ["allow_anonymous false", f"password_file {directory / 'passwd'}"]
    conf.write_text(
        "\n".join(
            [
                f"user {getpass.getuser()}",
                "per_listener_settings false",
                *auth,
                "persistence false",
                "log_dest stderr",
                f"listener {port} 127.0.0.1",
                *(listener or []),
            ]
        )
        + "\n"
    )
    log = (directory / "mosquitto.log").open("ab")
    proc = subprocess.Popen(
        dying_with_parent([binary, "-c", str(conf)]), stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_for_port("127.0.0.1", port)
        if proc.poll() is not None:
            raise RuntimeError(f"mosquitto exited; see {directory / 'mosquitto.log'}")
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
