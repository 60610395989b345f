"""Keeping camera frames only as long as they are needed.

Runs in the process that stores the frames (``parking serve``, the demo): the frames of
passages captured more than ``PARKING_IMAGE_RETENTION_DAYS`` ago are deleted once a day,
except those of passages still waiting in the review queue. ``parking images prune`` does the
same on demand (a cron job, or after changing the retention).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from billing.adapters.uow import UnitOfWork
from billing.services import pending_review_images
from gateway.images import PruneReport, prune_frames
from gateway.settings import Settings

log = logging.getLogger(__name__)


def prune_old_frames(
    data_dir: Path, uow: UnitOfWork, days: int, now: datetime | None = None
) -> PruneReport:
    """Delete the frames of every day that ended more than ``days`` days ago (UTC days, as the
    folders are named), keeping the frames of passages pending review."""
    now = now or datetime.now(UTC)
    before = (now - timedelta(days=days)).date()
    # every passage whose folder can be pruned was captured before this (a day of margin)
    captured_before = datetime.combine(before, time(), tzinfo=UTC) + timedelta(days=1)
    keep = pending_review_images(uow, captured_before)
    return prune_frames(data_dir, before=before, keep=keep)


class FrameRetention:
    """A daemon thread that prunes once at start and then every ``every_s`` seconds."""

    def __init__(
        self,
        data_dir: Path,
        uow_factory: Callable[[], UnitOfWork],
        days: int,
        every_s: float = 24 * 3600,
    ) -> None:
        self._data_dir = data_dir
        self._uow_factory = uow_factory
        self._days = days
        self._every = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="frame-retention", daemon=True)
        self.runs = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                prune_old_frames(self._data_dir, self._uow_factory(), self._days)
                self.runs += 1
            except Exception:  # a full disk or a database hiccup: try again next time
                log.exception("pruning old frames failed")
            self._stop.wait(self._every)


def start_retention(
    settings: Settings, uow_factory: Callable[[], UnitOfWork]
) -> FrameRetention | None:
    """The retention thread of a process that keeps frames; None when there is nothing to do."""
    if not settings.keep_images or not settings.image_retention_days:
        return None
    job = FrameRetention(settings.data_dir, uow_factory, settings.image_retention_days)
    job.start()
    return job
