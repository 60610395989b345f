"""The camera frames kept with a passage, for operators reviewing it.

A passage records one ``image_ref``: the first frame, ``images/<day>/<event id>.jpg`` under the
data directory. The event's further frames lie beside it as ``<event id>.<n>.jpg`` (n = 1..4)
and the camera's plate crop, when it sent one, as ``<event id>.crop.jpg``; billing needs to
know only the first.
"""

from __future__ import annotations

from pathlib import Path

from gateway.protocol import GateEvent

MAX_FRAMES = 5


def store_frames(data_dir: Path, event: GateEvent) -> str:
    """Write every frame (and the crop) of ``event``; return the first frame's reference."""
    day = event.captured_at.date().isoformat()
    rel = Path("images") / day / f"{event.event_id}.jpg"
    first = data_dir / rel
    first.parent.mkdir(parents=True, exist_ok=True)
    first.write_bytes(event.frames[0])
    for n, frame in enumerate(event.frames[1:MAX_FRAMES], start=1):
        first.with_name(f"{event.event_id}.{n}.jpg").write_bytes(frame)
    if event.plate_crop is not None:
        first.with_name(f"{event.event_id}.crop.jpg").write_bytes(event.plate_crop)
    return rel.as_posix()


def _inside(data_dir: Path, image_ref: str) -> Path | None:
    root = data_dir.resolve()
    path = (root / image_ref).resolve()
    return path if path.is_relative_to(root) else None


def frame_paths(data_dir: Path, image_ref: str) -> list[Path]:
    """The stored frames of a passage, first frame first; only files inside the data dir."""
    first = _inside(data_dir, image_ref)
    if first is None or not first.is_file():
        return []
    out = [first]
    for n in range(1, MAX_FRAMES):
        nth = first.with_name(f"{first.stem}.{n}{first.suffix}")
        if not nth.is_file():
            break
        out.append(nth)
    return out
