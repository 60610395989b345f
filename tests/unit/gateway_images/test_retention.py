"""Frames are personal data: old ones go, those of passages still under review stay."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from gateway.images import frame_paths, prune_frames, store_frames
from gateway.protocol import JPEG_SOI, GateEvent

JPEG = JPEG_SOI + b"\xff\xe0"


def event(event_id: str, day: int, frames: int = 2, crop: bool = False) -> GateEvent:
    return GateEvent(
        event_id=event_id,
        lot_id="L1",
        gate_id="in-1",
        direction="entry",
        captured_at=datetime(2026, 11, day, 8, 0, tzinfo=UTC),
        frames=tuple(JPEG + bytes([n]) for n in range(frames)),
        plate_crop=JPEG + b"crop" if crop else None,
    )


def test_old_frames_go_pending_reviews_and_recent_days_stay(tmp_path: Path) -> None:
    old = store_frames(tmp_path, event("old-event:0001", 1, frames=3, crop=True))
    review = store_frames(tmp_path, event("in.review-0002", 1, frames=2, crop=True))
    # same day, an id that starts like the reviewed one: must not be kept by accident
    lookalike = store_frames(tmp_path, event("in.review-0002x", 1))
    recent = store_frames(tmp_path, event("recent-event-03", 20))
    report = prune_frames(tmp_path, before=date(2026, 11, 15), keep=[review])
    assert frame_paths(tmp_path, old) == [] and frame_paths(tmp_path, lookalike) == []
    assert len(frame_paths(tmp_path, review)) == 2
    assert (tmp_path / "images/2026-11-01/in.review-0002.crop.jpg").is_file()
    assert len(frame_paths(tmp_path, recent)) == 2
    assert report.files_removed == 4 + 2 and report.files_kept == 3
    assert report.bytes_removed > 0 and report.days_removed == 0
    # once reviewed, the day folder goes with its last frames
    again = prune_frames(tmp_path, before=date(2026, 11, 15), keep=[])
    assert again.files_removed == 3 and again.days_removed == 1
    assert not (tmp_path / "images/2026-11-01").exists()
    assert (tmp_path / "images/2026-11-20").is_dir()


def test_nothing_to_prune_and_foreign_folders_are_left_alone(tmp_path: Path) -> None:
    assert prune_frames(tmp_path, before=date(2026, 11, 15), keep=[]).files_removed == 0
    (tmp_path / "images/notes").mkdir(parents=True)
    (tmp_path / "images/notes/readme.txt").write_text("operator's file")
    assert prune_frames(tmp_path, before=date(2030, 1, 1), keep=[]).files_removed == 0
    assert (tmp_path / "images/notes/readme.txt").is_file()
