"""The broker's accounts between runs of ``parking mqtt config``: kept, added, rotated on request.

A gate keeps its password for as long as it exists: regenerating the broker configuration
(after a gate was added, or to move the listener) must not lock every gate in the field out, so
existing passwords are reused and only ``rotate`` replaces them. The operator's copy is
``credentials.json`` (0600); each gate gets a file of its own to install on that gate alone,
and the gateway an ``.env`` fragment with the service user's password.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.mosquitto_conf import GateCredential, check_id, write_private

CREDENTIALS_FILE = "credentials.json"
GATEWAY_ENV_FILE = "gateway.env"
GATES_DIR = "gates"


class CredentialFileError(ValueError):
    """credentials.json exists but cannot be read as this command wrote it."""


@dataclass(frozen=True)
class BrokerCredentials:
    service_user: str
    service_password: str
    gates: tuple[GateCredential, ...]


@dataclass(frozen=True)
class CredentialPlan:
    """The accounts to write and what changed against the previous run (usernames)."""

    credentials: BrokerCredentials
    created: tuple[str, ...]
    kept: tuple[str, ...]
    removed: tuple[str, ...]
    service_rotated: bool


def _new_password() -> str:
    return secrets.token_urlsafe(18)


def plan(
    previous: BrokerCredentials | None,
    service_user: str,
    gates: Iterable[tuple[str, str]],
    *,
    rotate: bool = False,
) -> CredentialPlan:
    """One credential per (lot, gate): the previous password when there was one (unless
    ``rotate``), a new one otherwise; gates no longer listed are dropped."""
    check_id(service_user, "service user")
    old = {} if previous is None or rotate else {(g.lot_id, g.gate_id): g for g in previous.gates}
    creds: list[GateCredential] = []
    created: list[str] = []
    kept: list[str] = []
    for lot_id, gate_id in sorted(set(gates)):
        known = old.get((lot_id, gate_id))
        cred = GateCredential(lot_id, gate_id, known.password if known else _new_password())
        (kept if known else created).append(cred.username)
        creds.append(cred)
    wanted = {(g.lot_id, g.gate_id) for g in creds}
    removed = (
        ()
        if previous is None
        else tuple(g.username for g in previous.gates if (g.lot_id, g.gate_id) not in wanted)
    )
    reuse = previous is not None and not rotate and previous.service_user == service_user
    password = previous.service_password if reuse and previous else _new_password()
    return CredentialPlan(
        BrokerCredentials(service_user, password, tuple(creds)),
        tuple(created),
        tuple(kept),
        removed,
        service_rotated=not reuse,
    )


def load(directory: Path) -> BrokerCredentials | None:
    """The credentials a previous run wrote into ``directory``, None when there are none."""
    path = directory / CREDENTIALS_FILE
    if not path.exists():
        return None
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
        gates = tuple(
            GateCredential(
                check_id(str(g["lot_id"]), "lot"),
                check_id(str(g["gate_id"]), "gate"),
                _password(g["password"]),
            )
            for g in raw["gates"]
        )
        service = raw["service"]
        return BrokerCredentials(
            check_id(str(service["username"]), "service user"),
            _password(service["password"]),
            gates,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CredentialFileError(
            f"{path}: not a credentials file of this command ({exc})"
        ) from exc


def _password(value: Any) -> str:
    if not isinstance(value, str) or not value or any(c in value for c in "\r\n"):
        raise ValueError("a password must be a non-empty one-line string")
    return value


def gate_file(directory: Path, cred: GateCredential) -> Path:
    """One file per gate; ids never contain ``/`` and never start with ``.``."""
    return directory / GATES_DIR / cred.lot_id / f"{cred.gate_id}.json"


def save(directory: Path, creds: BrokerCredentials, *, port: int) -> list[Path]:
    """credentials.json, gateway.env and one file per gate, each 0600; stale gate files go."""
    written = [directory / CREDENTIALS_FILE, directory / GATEWAY_ENV_FILE]
    write_private(
        written[0],
        json.dumps(
            {
                "version": 1,
                "port": port,
                "service": {"username": creds.service_user, "password": creds.service_password},
                "gates": [
                    {
                        "lot_id": g.lot_id,
                        "gate_id": g.gate_id,
                        "username": g.username,
                        "password": g.password,
                    }
                    for g in creds.gates
                ],
            },
            indent=2,
        )
        + "\n",
    )
    write_private(
        written[1],
        f"PARKING_MQTT_PORT={port}\n"
        f"PARKING_MQTT_USERNAME={creds.service_user}\n"
        f"PARKING_MQTT_PASSWORD={creds.service_password}\n",
    )
    for g in creds.gates:
        path = gate_file(directory, g)
        body = {
            "lot_id": g.lot_id,
            "gate_id": g.gate_id,
            "port": port,
            "username": g.username,
            "password": g.password,
        }
        write_private(path, json.dumps(body, indent=2) + "\n")
        written.append(path)
    keep = set(written)
    for stale in (directory / GATES_DIR).glob("*/*.json"):
        if stale not in keep:
            stale.unlink()
    return written
