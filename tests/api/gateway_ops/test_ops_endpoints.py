"""/livez, /readyz and /metrics as the gateway app serves them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from gateway import migrate
from gateway.app import create_app
from gateway.metrics import Metrics
from gateway.ops import router
from gateway.settings import Settings


def _app(session_factory: sessionmaker[Session], container: object | None = None) -> TestClient:
    app = FastAPI()
    app.state.session_factory = session_factory
    app.state.container = container
    app.include_router(router)
    return TestClient(app)


def test_ready_when_database_answers_and_consumer_connected(tmp_path: Path) -> None:
    sessions = sessionmaker(bind=create_engine(f"sqlite:///{tmp_path / 'x.db'}"))
    client_ok = SimpleNamespace(is_connected=lambda: True)
    consumer = SimpleNamespace(ready=True, client=client_ok)
    c = _app(sessions, SimpleNamespace(metrics=Metrics(), consumer=consumer))
    assert c.get("/livez").json() == {"status": "ok"}
    r = c.get("/readyz")
    assert r.status_code == 200
    assert r.json()["checks"] == {"database": "ok", "mqtt_consumer": "ok", "lanes": "ok"}
    consumer.client = SimpleNamespace(is_connected=lambda: False)
    r = c.get("/readyz")
    assert r.status_code == 503 and r.json()["checks"]["mqtt_consumer"] == "failing"


def test_not_ready_while_a_lane_retries_a_failed_settlement(tmp_path: Path) -> None:
    sessions = sessionmaker(bind=create_engine(f"sqlite:///{tmp_path / 'x.db'}"))
    consumer = SimpleNamespace(
        ready=True, client=SimpleNamespace(is_connected=lambda: True), blocked_lanes=["L1/G2"]
    )
    r = _app(sessions, SimpleNamespace(metrics=Metrics(), consumer=consumer)).get("/readyz")
    assert r.status_code == 503 and r.json()["checks"]["lanes"] == "blocked: L1/G2"


def test_not_ready_when_the_database_is_gone(tmp_path: Path) -> None:
    sessions = sessionmaker(bind=create_engine(f"sqlite:///{tmp_path / 'missing' / 'x.db'}"))
    r = _app(sessions).get("/readyz")
    assert r.status_code == 503 and r.json()["checks"]["database"].startswith("failing")
    assert _app(sessions).get("/livez").status_code == 200


def test_metrics_of_the_real_app_show_outbox_and_invoice_figures(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    migrate.upgrade(settings.effective_database_url)
    with TestClient(create_app(settings)) as c:
        r = c.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    body = r.text
    for name in ("parking_outbox_backlog", "parking_invoices", "parking_decision_seconds"):
        assert f"# TYPE {name}" in body


def test_not_ready_while_the_plate_reader_pool_cannot_be_restarted(tmp_path: Path) -> None:
    sessions = sessionmaker(bind=create_engine(f"sqlite:///{tmp_path / 'x.db'}"))
    pool = SimpleNamespace(healthy=True)
    c = _app(sessions, SimpleNamespace(metrics=Metrics(), consumer=None, reader_pool=pool))
    assert c.get("/readyz").json()["checks"]["plate_reader"] == "ok"
    pool.healthy = False
    r = c.get("/readyz")
    assert r.status_code == 503 and r.json()["checks"]["plate_reader"] == "failing"
