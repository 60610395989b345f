"""A Mosquitto configuration with per-device credentials and ACLs.

Every gate gets its own user that may publish only its own events and status and read only its
own commands; the gateway's service user reads all events and status and writes commands.
Anonymous access is off. Passwords are stored as Mosquitto 2's ``$7$`` PBKDF2-SHA512 hashes
(what ``mosquitto_passwd`` writes); we hash them here so generating a configuration needs no
binary, and ``mosquitto_passwd -U`` is never needed on the file.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.protocol import commands_topic, events_topic, status_topic, topic_filter

PBKDF2_ITERATIONS = 101  # mosquitto_passwd's default for $7$


@dataclass(frozen=True)
class GateCredential:
    lot_id: str
    gate_id: str
    password: str

    @property
    def username(self) -> str:
        return gate_username(self.lot_id, self.gate_id)


def gate_username(lot_id: str, gate_id: str) -> str:
    return f"gate.{lot_id}.{gate_id}"


def new_gate_credential(lot_id: str, gate_id: str) -> GateCredential:
    return GateCredential(lot_id, gate_id, secrets.token_urlsafe(18))


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    b64 = base64.b64encode
    return f"$7${PBKDF2_ITERATIONS}${b64(salt).decode()}${b64(digest).decode()}"


def password_file(users: Mapping[str, str]) -> str:
    return "".join(f"{name}:{hash_password(pw)}\n" for name, pw in users.items())


def acl_file(service_users: Iterable[str], gates: Iterable[GateCredential]) -> str:
    lines: list[str] = []
    for user in service_users:
        lines += [
            f"user {user}",
            f"topic read {topic_filter('events')}",
            f"topic read {topic_filter('status')}",
            f"topic write {topic_filter('commands')}",
            "",
        ]
    for gate in gates:
        lines += [
            f"user {gate.username}",
            f"topic write {events_topic(gate.lot_id, gate.gate_id)}",
            f"topic readwrite {status_topic(gate.lot_id, gate.gate_id)}",
            f"topic read {commands_topic(gate.lot_id, gate.gate_id)}",
            "",
        ]
    return "\n".join(lines)


def broker_config(
    directory: Path,
    *,
    port: int,
    bind: str = "127.0.0.1",
    authenticated: bool = True,
    max_packet_bytes: int = 5 * 1024 * 1024,
) -> str:
    """``mosquitto.conf`` text; password and ACL files are expected beside it."""
    lines = [
        # Run as whoever starts it: when that is root, Mosquitto would otherwise switch to the
        # "mosquitto" user, which cannot read our 0600 password file.
        f"user {getpass.getuser()}",
        "per_listener_settings false",
        f"listener {port} {bind}",
        f"allow_anonymous {'false' if authenticated else 'true'}",
        # Persistent sessions survive a broker restart too; queued QoS 1 events are not dropped
        # while a gateway restarts (the default limit of 1000 queued messages is too small).
        "persistence true",
        f"persistence_location {directory.as_posix()}/",
        "autosave_interval 30",
        "max_queued_messages 100000",
        "max_inflight_messages 100",
        f"max_packet_size {max_packet_bytes}",
        # Barrier commands are small packets that follow a PUBACK on the same socket: with
        # Nagle's algorithm on, each waited for the gate's delayed TCP ACK (about 40 ms).
        "set_tcp_nodelay true",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
    ]
    if authenticated:
        lines += [
            f"password_file {(directory / 'passwd').as_posix()}",
            f"acl_file {(directory / 'acl').as_posix()}",
        ]
    return "\n".join(lines) + "\n"


def write_config(
    directory: Path,
    *,
    port: int,
    service_users: Mapping[str, str],
    gates: Iterable[GateCredential],
    bind: str = "127.0.0.1",
) -> Path:
    """Write mosquitto.conf, passwd and acl into ``directory``; returns the config path."""
    gates = list(gates)
    directory.mkdir(parents=True, exist_ok=True)
    users = dict(service_users)
    users.update({g.username: g.password for g in gates})
    for name, content in (
        ("passwd", password_file(users)),
        ("acl", acl_file(service_users, gates)),
        ("mosquitto.conf", broker_config(directory, port=port, bind=bind)),
    ):
        path = directory / name
        path.write_text(content)
        path.chmod(0o600)
    return directory / "mosquitto.conf"
