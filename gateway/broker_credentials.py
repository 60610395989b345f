"""The broker's accounts between runs of ``parking mqtt config``: kept, added, rotated on request.

A gate keeps its password for as long as it exists: regenerating the broker configuration
(after a gate was added, or to move the listener) must not lock every gate in the field out, so
existing passwords are reused and only ``rotate`` replaces them. The operator's copy is
``credentials.json`` (0600); each gate gets a file of its own to install on that gate alone,
and each gateway instance an ``.env`` fragment with its own service account: the broker binds
a client id to its username, so two instances sharing one account would take the session
from each other.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.mosquitto_conf import GateCredential, check_id, write_private

CREDENTIALS_FILE = "credentials.json"
GATEWAYS_DIR = "gateways"  # one <service user>.env per gateway instance
LEGACY_GATEWAY_ENV_FILE = "gateway.env"  # the single instance's file of earlier versions
GATES_DIR = "gates"


class CredentialFileError(ValueError):
    """credentials.json exists but cannot be read as this command wrote it."""


@dataclass(frozen=True)
class ServiceCredential:
    """One gateway instance's broker account; its username is also its MQTT client id."""

    username: str
    password: str


@dataclass(frozen=True)
class BrokerCredentials:
    services: tuple[ServiceCredential, ...]
    gates: tuple[GateCredential, ...]

    @property
    def service_users(self) -> dict[str, str]:
        return {s.username: s.password for s in self.services}


@dataclass(frozen=True)
class CredentialPlan:
    """The accounts to write and what changed against the previous run (usernames)."""

    credentials: BrokerCredentials
    created: tuple[str, ...]
    kept: tuple[str, ...]
    removed: tuple[str, ...]
    services_new: tuple[str, ...]  # gateway accounts with a new (or rotated) password


def _new_password() -> str:
    return secrets.token_urlsafe(18)


def plan(
    previous: BrokerCredentials | None,
    service_users: Sequence[str],
    gates: Iterable[tuple[str, str]],
    *,
    rotate: bool = False,
) -> CredentialPlan:
    """One credential per (lot, gate) and per gateway instance (``service_users``): the
    previous password when there was one (unless ``rotate``), a new one otherwise; gates and
    instances no longer listed are dropped."""
    names = list(dict.fromkeys(check_id(u, "service user") for u in service_users))
    if not names:
        raise ValueError("at least one gateway account (service user) is needed")
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
    passwords = {} if previous is None or rotate else previous.service_users
    services = tuple(ServiceCredential(u, passwords.get(u) or _new_password()) for u in names)
    gone = () if previous is None else tuple(u for u in previous.service_users if u not in names)
    return CredentialPlan(
        BrokerCredentials(services, tuple(creds)),
        tuple(created),
        tuple(kept),
        removed + gone,
        services_new=tuple(u for u in names if u not in passwords),
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
        # version 1 had one "service"; version 2 one per gateway instance
        services = raw["services"] if "services" in raw else [raw["service"]]
        return BrokerCredentials(
            tuple(
                ServiceCredential(
                    check_id(str(svc["username"]), "service user"), _password(svc["password"])
                )
                for svc in services
            ),
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


def gateway_env_file(directory: Path, service: ServiceCredential) -> Path:
    return directory / GATEWAYS_DIR / f"{service.username}.env"


def save(directory: Path, creds: BrokerCredentials, *, port: int) -> list[Path]:
    """credentials.json, one .env per gateway instance and one file per gate, each 0600;
    stale files go."""
    written = [directory / CREDENTIALS_FILE]
    write_private(
        written[0],
        json.dumps(
            {
                "version": 2,
                "port": port,
                "services": [
                    {"username": s.username, "password": s.password} for s in creds.services
                ],
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
    for service in creds.services:
        path = gateway_env_file(directory, service)
        write_private(
            path,
            f"PARKING_MQTT_PORT={port}\n"
            f"PARKING_MQTT_USERNAME={service.username}\n"
            f"PARKING_MQTT_PASSWORD={service.password}\n"
            # the broker uses the username as the client id anyway; say so in the logs too
            f"PARKING_MQTT_CLIENT_ID={service.username}\n",
        )
        written.append(path)
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
    stale_files = [
        *(directory / GATES_DIR).glob("*/*.json"),
        *(directory / GATEWAYS_DIR).glob("*.env"),
        directory / LEGACY_GATEWAY_ENV_FILE,
    ]
    for stale in stale_files:
        if stale not in keep and stale.exists():
            stale.unlink()
    return written
