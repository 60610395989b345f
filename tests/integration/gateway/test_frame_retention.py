"""Frames are deleted after the retention period, except those of passages pending review:
by the serve/demo thread and by ``parking images prune``, on a real database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from billing.adapters.uow import UnitOfWork
from billing.domain.decisions import PassageInput
from billing.services import seed_demo, settle_passage
from billing.services.seed import CENTRAL_LOT
from gateway import migrate
from gateway.cli import app
from gateway.db import make_engine, make_session_factory
from gateway.images import frame_paths, store_frames
from gateway.protocol import JPEG_SOI, GateEvent
from gateway.retention import FrameRetention, prune_old_frames
from gateway.settings import get_settings
from tests.e2e.passage_stack import wait_until

pytestmark = pytest.mark.integration
NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def passage(
    uow: UnitOfWork, data_dir: Path, days_ago: int, readable: bool, now: datetime = NOW
) -> str:
    """An entry captured ``days_ago`` days before ``now``; unreadable ones wait for review."""
    event = GateEvent(
        event_id=uuid.uuid4().hex,
        lot_id=CENTRAL_LOT,
        gate_id=f"{CENTRAL_LOT}-in1",
        direction="entry",
        captured_at=now - timedelta(days=days_ago),
        frames=(JPEG_SOI + b"frame-1", JPEG_SOI + b"frame-2"),
    )
    ref = store_frames(data_dir, event)
    decision = settle_passage(
        uow,
        PassageInput(
            event.event_id,
            event.lot_id,
            event.gate_id,
            "entry",
            event.captured_at,
            f"30A-{uuid.uuid4().int % 1000:03d}.{days_ago % 100:02d}" if readable else None,
            0.99 if readable else 0.0,
            needs_review=not readable,
            image_ref=ref,
        ),
    )
    assert decision.review is not readable
    return ref


@pytest.fixture()
def world(tmp_path: Path) -> tuple[Path, UnitOfWork, str]:
    url = f"sqlite:///{tmp_path / 'parking.db'}"
    migrate.upgrade(url)
    uow = UnitOfWork(make_session_factory(make_engine(url)))
    seed_demo(uow)
    return tmp_path, uow, url


def test_old_frames_go_those_under_review_stay(world: tuple[Path, UnitOfWork, str]) -> None:
    data_dir, uow, _ = world
    old = passage(uow, data_dir, 100, readable=True)
    old_review = passage(uow, data_dir, 100, readable=False)
    recent = passage(uow, data_dir, 10, readable=True)
    report = prune_old_frames(data_dir, uow, days=90, now=NOW)
    assert frame_paths(data_dir, old) == []
    assert len(frame_paths(data_dir, old_review)) == 2  # evidence for the operator
    assert len(frame_paths(data_dir, recent)) == 2
    assert (report.files_removed, report.files_kept) == (2, 2)


def test_the_serve_thread_prunes_at_start(world: tuple[Path, UnitOfWork, str]) -> None:
    data_dir, uow, _ = world
    old = passage(uow, data_dir, 200, readable=True, now=datetime.now(UTC))  # it reads the clock
    job = FrameRetention(data_dir, lambda: uow, days=90, every_s=3600)
    job.start()
    try:
        wait_until(lambda: job.runs == 1, 10, "the first pruning")
    finally:
        job.stop()
    assert frame_paths(data_dir, old) == []


def test_parking_images_prune(
    world: tuple[Path, UnitOfWork, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir, uow, url = world
    old = passage(uow, data_dir, 40, readable=True, now=datetime.now(UTC))
    monkeypatch.setenv("PARKING_DATABASE_URL", url)
    monkeypatch.setenv("PARKING_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(app, ["images", "prune", "--days", "60"])
        assert r.exit_code == 0 and "removed 0 frames" in r.output
        assert len(frame_paths(data_dir, old)) == 2
        r = CliRunner().invoke(app, ["images", "prune", "--days", "30"])
        assert r.exit_code == 0 and "removed 2 frames" in r.output, r.output
        assert frame_paths(data_dir, old) == []
    finally:
        get_settings.cache_clear()
