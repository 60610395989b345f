"""A Mosquitto configuration with per-device credentials and ACLs.

Every gate gets its own user that may publish only its own events and status and read only its
own commands; each gateway instance has a service user that reads all events and status and
writes commands. Anonymous access is off, and every client's id is its username
(``use_username_as_clientid``): a gate's credentials with ``-i <the gateway's client id>`` once
took the gateway's persistent session over (and lost events); now a client id is bound to its
account, so each gateway instance needs an account of its own. Passwords are stored as
Mosquitto 2's ``$7$`` PBKDF2-SHA512 hashes (what ``mosquitto_passwd`` writes); we hash them
here so generating a configuration needs no binary, and ``mosquitto_passwd -U`` is never needed
on the file.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from gateway.protocol import (
    ID_PATTERN,
    MAX_EVENT_PACKET_BYTES,
    allowlist_topic,
    commands_topic,
    events_topic,
    status_topic,
    topic_filter,
)

PBKDF2_ITERATIONS = 101
AUTOSAVE_INTERVAL_S = 5  # mosquitto_passwd's default for $7$
# The whole id must match: "$" in ID_PATTERN also matches before a final newline, and a newline
# in a username would start a new line of the password or ACL file.
_ID = re.compile(ID_PATTERN.removeprefix("^").removesuffix("$"))


def check_id(value: str, what: str) -> str:
    """A lot or gate id as it may appear in a username, topic and file line, or ValueError."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ValueError(f"{what} id {value!r} does not match {ID_PATTERN}")
    return value


@dataclass(frozen=True)
class GateCredential:
    lot_id: str
    gate_id: str
    password: str

    @property
    def username(self) -> str:
        return gate_username(self.lot_id, self.gate_id)


#: Between the parts of a gate's username. Lot and gate ids may contain ``.``, ``-`` and ``_``
#: (``ID_PATTERN`` in gateway.protocol), so ``gate.A.B.C`` could be lot ``A.B`` gate ``C`` or lot
#: ``A`` gate ``B.C``; a ``/`` never occurs in an id, mirrors the topic tree, and Mosquitto takes
#: it in the password file (only ``:`` is special there) and in ``user`` lines of the ACL file.
GATE_USER_SEPARATOR = "/"


def gate_username(lot_id: str, gate_id: str) -> str:
    """``gate/{lot}/{gate}``: one username per gate, never shared by two (lot, gate) pairs."""
    sep = GATE_USER_SEPARATOR
    return f"gate{sep}{check_id(lot_id, 'lot')}{sep}{check_id(gate_id, 'gate')}"


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
            "topic write lots/+/allowlist",
            "",
        ]
    for gate in gates:
        lines += [
            f"user {gate.username}",
            f"topic write {events_topic(gate.lot_id, gate.gate_id)}",
            f"topic readwrite {status_topic(gate.lot_id, gate.gate_id)}",
            f"topic read {commands_topic(gate.lot_id, gate.gate_id)}",
            # the lot's signed allow-list: only that lot's gates read it, none writes it
            f"topic read {allowlist_topic(gate.lot_id)}",
            "",
        ]
    return "\n".join(lines)


def broker_config(
    directory: Path,
    *,
    port: int,
    bind: str = "127.0.0.1",
    authenticated: bool = True,
    max_packet_bytes: int = MAX_EVENT_PACKET_BYTES,
) -> str:
    """``mosquitto.conf`` text; password and ACL files are expected beside it.

    ``max_packet_size`` is the consumer's packet limit (the protocol's largest event plus the
    PUBLISH overhead): a packet the broker accepts from a gate is one the consumer takes, and
    every valid event fits. Persistence is tightened (a save every few seconds, not 30) but
    nothing relies on it: gates resend every event until its decision arrives.
    """
    lines = [
        # Run as whoever starts it: when that is root, Mosquitto would otherwise switch to the
        # "mosquitto" user, which cannot read our 0600 password file.
        f"user {getpass.getuser()}",
        "per_listener_settings false",
        f"listener {port} {bind}",
        f"allow_anonymous {'false' if authenticated else 'true'}",
        # A client's id is its username: nobody can take over another account's session.
        *(["use_username_as_clientid true"] if authenticated else []),
        # Persistent sessions survive a broker restart too; queued QoS 1 events are not dropped
        # while a gateway restarts (the default limit of 1000 queued messages is too small).
        "persistence true",
        f"persistence_location {directory.as_posix()}/",
        # Saved every AUTOSAVE_INTERVAL_S seconds (and on a clean shutdown): a kill -9 loses at
        # most that much of what the broker acknowledged, and the gates resend it anyway. Not
        # on every change: each save writes the whole store, queued frames included.
        "autosave_on_changes false",
        f"autosave_interval {AUTOSAVE_INTERVAL_S}",
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
    for name in service_users:
        check_id(name, "service user")
    users = dict(service_users)
    for gate in gates:
        if gate.username in users:
            raise ValueError(f"two accounts named {gate.username}")
        users[gate.username] = gate.password
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in (
        ("passwd", password_file(users)),
        ("acl", acl_file(service_users, gates)),
        ("mosquitto.conf", broker_config(directory, port=port, bind=bind)),
    ):
        write_private(directory / name, content)
    return directory / "mosquitto.conf"


def write_private(path: Path, content: str) -> None:
    """Replace ``path`` with ``content``, readable by its owner only from the first byte on
    (a file written first and chmod-ed after is readable by others in between)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an older file of that name kept its mode
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            fd = -1
            out.write(content)
    finally:
        if fd != -1:
            os.close(fd)
    os.replace(tmp, path)
