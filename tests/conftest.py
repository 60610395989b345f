"""Shared fixtures: a throw-away PostgreSQL database per test module, SQLite files, Mosquitto."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get(
    "PARKING_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MQTT_HOST = os.environ.get("PARKING_TEST_MQTT_HOST", "127.0.0.1")
MQTT_PORT = int(os.environ.get("PARKING_TEST_MQTT_PORT", "1883"))
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the repository: real plate images for evaluation (never copied)."""
    if not SHARED.is_dir():
        raise RuntimeError(f"{SHARED} is missing: the tests read real plates from ../shared")
    return SHARED


def _fresh_pg_database() -> Iterator[str]:
    name = f"parking_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture()
def pg_url() -> Iterator[str]:
    """URL of an empty PostgreSQL database that exists for one test."""
    yield from _fresh_pg_database()


@pytest.fixture(scope="module")
def pg_url_module() -> Iterator[str]:
    """URL of an empty PostgreSQL database shared by the tests of one module."""
    yield from _fresh_pg_database()


@pytest.fixture()
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{(tmp_path / 'parking.db').as_posix()}"


@pytest.fixture(scope="session")
def mosquitto() -> tuple[str, int]:
    """The machine's Mosquitto; fails loudly (never skips) when it is not running."""
    with socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=3):
        pass
    return MQTT_HOST, MQTT_PORT


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
