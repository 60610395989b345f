"""PARKING_DATABASE_READ_URL against a real hot standby: GET requests read the replica, writes
go to the primary.

Two private PostgreSQL clusters on free ports (never the shared one): a primary, and a
streaming replica made from it with ``pg_basebackup -R``. Pausing the replica's WAL replay
makes the routing visible: a change written through the API is in the PUT's answer (the
primary) but not in the next GET's (the replica) until replay resumes.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from billing.adapters.uow import UnitOfWork
from billing.services.seed import CENTRAL_LOT, seed_demo
from gateway import migrate
from gateway.app import create_app
from gateway.auth.users import create_user
from gateway.db import make_engine, make_session_factory
from gateway.settings import Settings
from tests.conftest import free_port

PASSWORD = "correct horse battery"


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)}: exit {done.returncode}: {done.stderr.strip()}")


def _cluster(name: str, port: int, *, start: bool) -> None:
    _run(
        ["pg_createcluster", "15", name, "--port", str(port), *(["--start"] if start else []),
         "--", "--auth-local=trust", "--auth-host=trust"],
    )  # fmt: skip


@pytest.fixture()
def primary_and_replica() -> Iterator[tuple[str, str]]:
    """(primary URL, replica URL): a private primary and its hot standby, dropped afterwards."""
    tag = uuid.uuid4().hex[:8]
    primary, replica = f"rrprimary{tag}", f"rrreplica{tag}"
    p_port, r_port = free_port(), free_port()
    try:
        _cluster(primary, p_port, start=True)
        admin = create_engine(
            f"postgresql+psycopg://postgres@127.0.0.1:{p_port}/postgres",
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE parking"))
        admin.dispose()
        _cluster(replica, r_port, start=False)
        data = Path(f"/var/lib/postgresql/15/{replica}")
        for child in data.iterdir():  # pg_basebackup fills an empty directory
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        # --checkpoint=fast: the default (spread) waits for a checkpoint spread over
        # checkpoint_timeout, which cost this fixture 100 s of an idle wait on every run.
        _run(
            ["runuser", "-u", "postgres", "--", "pg_basebackup", "-h", "127.0.0.1",
             "-p", str(p_port), "-U", "postgres", "-D", str(data), "-R", "-X", "stream",
             "--checkpoint=fast"],
        )  # fmt: skip
        _run(["pg_ctlcluster", "15", replica, "start"])
        yield (
            f"postgresql+psycopg://postgres@127.0.0.1:{p_port}/parking",
            f"postgresql+psycopg://postgres@127.0.0.1:{r_port}/parking",
        )
    finally:
        for name in (replica, primary):
            subprocess.run(["pg_dropcluster", "--stop", "15", name], capture_output=True)


def _caught_up(primary_url: str, replica_url: str, timeout_s: float = 30.0) -> None:
    """Wait until the replica has replayed everything the primary wrote so far."""
    p, r = create_engine(primary_url), create_engine(replica_url)
    try:
        with p.connect() as conn:
            target = conn.execute(text("SELECT pg_current_wal_lsn()")).scalar_one()
        deadline = time.monotonic() + timeout_s
        while True:
            with r.connect() as conn:
                done = conn.execute(
                    text("SELECT pg_last_wal_replay_lsn() >= CAST(:t AS pg_lsn)"), {"t": target}
                ).scalar_one()
            if done:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the replica did not replay up to {target}")
            time.sleep(0.1)
    finally:
        p.dispose()
        r.dispose()


def _replica_sql(replica_url: str, sql: str) -> object:
    engine = create_engine(replica_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()
    finally:
        engine.dispose()


def test_gets_read_the_replica_and_writes_go_to_the_primary(
    primary_and_replica: tuple[str, str], tmp_path: Path
) -> None:
    primary_url, replica_url = primary_and_replica
    migrate.upgrade(primary_url)
    engine = make_engine(primary_url)
    factory = make_session_factory(engine)
    seed_demo(UnitOfWork(factory))
    with factory() as s:
        create_user(s, "admin", PASSWORD, "admin")
        s.commit()
    engine.dispose()
    _caught_up(primary_url, replica_url)
    assert _replica_sql(replica_url, "SELECT pg_is_in_recovery()") is True

    settings = Settings(data_dir=tmp_path, database_url=primary_url, database_read_url=replica_url)
    with TestClient(create_app(settings)) as client:
        r = client.post("/api/v1/auth/token", data={"username": "admin", "password": PASSWORD})
        assert r.status_code == 200, r.text
        auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
        lot = f"/api/v1/lots/{CENTRAL_LOT}"
        before = client.get(lot, headers=auth)
        assert before.status_code == 200, before.text
        old_tariff = before.json()["tariff_id"]
        new_tariff = "airport" if old_tariff != "airport" else "hn-central"

        _replica_sql(replica_url, "SELECT pg_wal_replay_pause()")
        changed = client.put(f"{lot}/tariff", json={"tariff_id": new_tariff}, headers=auth)
        assert changed.status_code == 200, changed.text
        assert changed.json()["tariff_id"] == new_tariff  # the PUT wrote and read the primary
        # the replica has not replayed the change: the GET read it there, not on the primary
        assert client.get(lot, headers=auth).json()["tariff_id"] == old_tariff

        _replica_sql(replica_url, "SELECT pg_wal_replay_resume()")
        _caught_up(primary_url, replica_url)
        assert client.get(lot, headers=auth).json()["tariff_id"] == new_tariff


def test_without_a_read_url_gets_read_the_primary(tmp_path: Path, pg_url: str) -> None:
    migrate.upgrade(pg_url)
    engine = make_engine(pg_url)
    factory = make_session_factory(engine)
    seed_demo(UnitOfWork(factory))
    with factory() as s:
        create_user(s, "admin", PASSWORD, "admin")
        s.commit()
    engine.dispose()
    app = create_app(Settings(data_dir=tmp_path, database_url=pg_url))
    assert app.state.read_session_factory is None
    with TestClient(app) as client:
        r = client.post("/api/v1/auth/token", data={"username": "admin", "password": PASSWORD})
        auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
        lot = f"/api/v1/lots/{CENTRAL_LOT}"
        tariff = client.get(lot, headers=auth).json()["tariff_id"]
        other = "airport" if tariff != "airport" else "hn-central"
        assert client.put(f"{lot}/tariff", json={"tariff_id": other}, headers=auth).is_success
        assert client.get(lot, headers=auth).json()["tariff_id"] == other
