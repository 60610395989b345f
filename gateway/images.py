"""The camera frames kept with a passage, for operators reviewing it.

A passage records one ``image_ref``: the first frame, ``images/<day>/<event id>.jpg`` under the
data directory. The event's further frames lie beside it as ``<event id>.<n>.jpg`` (n = 1..4)
and the camera's plate crop, when it sent one, as ``<event id>.crop.jpg``; where the reader
found the plate, as ``<event id>.box.json`` (frame index and box). Billing needs to know only
the first. The review page shows small thumbnails and a zoomed plate (``plate_zoom``), made
here from these files and cached, never the full 1280x720 frames.

Frames show vehicles and often people: personal data, kept only as long as operators need them
(``prune_frames``, run by ``parking serve``, the demo and ``parking images prune`` with
``PARKING_IMAGE_RETENTION_DAYS``: see ``gateway.retention``). A passage still waiting in the
review queue keeps its frames whatever their age.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date
from functools import lru_cache
from pathlib import Path

from gateway.protocol import GateEvent

log = logging.getLogger(__name__)

MAX_FRAMES = 5


def store_frames(data_dir: Path, event: GateEvent) -> str:
    """Write every frame (and the crop) of ``event``; return the first frame's reference."""
    day = event.captured_at.astimezone(UTC).date().isoformat()  # the UTC day, whatever the gate's
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


def _sidecar(first: Path, suffix: str) -> Path:
    return first.with_name(f"{first.stem}.{suffix}")


def store_read_box(data_dir: Path, image_ref: str, box: tuple[int, int, int, int, int]) -> None:
    """Keep where the reader found the plate: (frame index, x, y, w, h) in that frame."""
    first = _inside(data_dir, image_ref)
    if first is None:
        return
    frame, x, y, w, h = (int(v) for v in box)
    payload = {"frame": frame, "bbox": [x, y, w, h]}
    _sidecar(first, "box.json").write_text(json.dumps(payload), encoding="utf-8")


def read_box(data_dir: Path, image_ref: str) -> tuple[int, tuple[int, int, int, int]] | None:
    """(frame index, (x, y, w, h)) kept by ``store_read_box``; None when absent or damaged."""
    first = _inside(data_dir, image_ref)
    if first is None:
        return None
    path = _sidecar(first, "box.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        frame = int(data["frame"])
        x, y, w, h = (int(v) for v in data["bbox"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("unreadable plate box %s: %s", path, exc)
        return None
    if frame < 0 or w <= 0 or h <= 0:
        return None
    return frame, (x, y, w, h)


ZOOM_WIDTH = 360  # the zoomed plate, px: a plate is ~120-250 px wide in a 1280x720 frame
ZOOM_MARGIN = 0.25  # of the box's size on each side, so a slightly-off box still shows it


@lru_cache(maxsize=256)
def _zoom(path: Path, mtime_ns: int, box: tuple[int, int, int, int] | None, width: int) -> bytes:
    from PIL import Image

    with Image.open(path) as source:
        image = source.convert("RGB")
    if box is not None:
        x, y, w, h = box
        mx, my = int(w * ZOOM_MARGIN), int(h * ZOOM_MARGIN)
        left, top = max(0, x - mx), max(0, y - my)
        right, bottom = min(image.width, x + w + mx), min(image.height, y + h + my)
        if right <= left or bottom <= top:
            raise ValueError(f"plate box {box} lies outside the {image.size} frame")
        image = image.crop((left, top, right, bottom))
    scale = width / image.width
    image = image.resize((width, max(1, round(image.height * scale))), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()


def plate_zoom(data_dir: Path, image_ref: str, width: int = ZOOM_WIDTH) -> bytes | None:
    """The plate, enlarged, for the operator to read: the camera's own plate crop when it sent
    one, else the reader's box cut out of its frame (with a margin). None when neither exists
    (the reader found no plate): the page then says so. Cached in memory per file version."""
    first = _inside(data_dir, image_ref)
    if first is None or not first.is_file():
        return None
    crop = _sidecar(first, "crop.jpg")
    if crop.is_file():
        return _zoom(crop, crop.stat().st_mtime_ns, None, width)
    found = read_box(data_dir, image_ref)
    if found is None:
        return None
    frame, box = found
    paths = frame_paths(data_dir, image_ref)
    if frame >= len(paths):
        return None
    return _zoom(paths[frame], paths[frame].stat().st_mtime_ns, box, width)


THUMB_WIDTH = 320


@lru_cache(maxsize=512)
def _thumbnail(path: Path, mtime_ns: int, width: int) -> bytes:
    from PIL import Image

    with Image.open(path) as source:
        source.draft("RGB", (width, width))  # JPEG: decode at 1/2, 1/4 or 1/8 scale, cheaply
        small = source.convert("RGB")
    small.thumbnail((width, width * 4))
    out = io.BytesIO()
    small.save(out, "JPEG", quality=75, optimize=True)
    return out.getvalue()


def thumbnail(path: Path, width: int = THUMB_WIDTH) -> bytes:
    """A small JPEG of a stored frame for lists: a 1280x720 frame is 50-150 KB, this one a
    tenth of that. Kept in memory (a few MB at most) until the frame changes."""
    return _thumbnail(path, path.stat().st_mtime_ns, width)


@dataclass(frozen=True)
class PruneReport:
    days_removed: int  # day folders removed whole
    files_removed: int
    bytes_removed: int
    files_kept: int  # frames of passages still pending review


def _files_of(image_ref: str) -> set[str]:
    """``images/<day>/<event id>.jpg`` -> every file ``store_frames`` may have written for it,
    as ``<day>/<name>``."""
    ref = Path(image_ref)
    day, stem = ref.parent.name, ref.stem
    names = {ref.name, f"{stem}.crop.jpg", f"{stem}.box.json"} | {
        f"{stem}.{n}.jpg" for n in range(1, MAX_FRAMES)
    }
    return {f"{day}/{name}" for name in names}


def prune_frames(data_dir: Path, *, before: date, keep: Collection[str]) -> PruneReport:
    """Delete the frames of every day before ``before``, except the events whose first-frame
    reference (``image_ref``) is in ``keep``; day folders left empty are removed."""
    root = data_dir / "images"
    kept_files: set[str] = set().union(*map(_files_of, keep))
    days = files = size = kept = 0
    if not root.is_dir():
        return PruneReport(0, 0, 0, 0)
    for folder in sorted(root.iterdir()):
        try:
            day = date.fromisoformat(folder.name)
        except ValueError:
            continue  # not one of ours
        if day >= before or not folder.is_dir():
            continue
        for path in folder.iterdir():
            if not path.is_file():
                continue
            if f"{folder.name}/{path.name}" in kept_files:
                kept += 1
                continue
            size += path.stat().st_size
            path.unlink()
            files += 1
        if not any(folder.iterdir()):
            folder.rmdir()
            days += 1
    if files:
        log.info("pruned %d frames (%d bytes) from before %s; kept %d", files, size, before, kept)
    return PruneReport(days, files, size, kept)


def has_plate_zoom(data_dir: Path, image_ref: str) -> bool:
    """Whether ``plate_zoom`` has something to cut (a camera crop or the reader's box)."""
    first = _inside(data_dir, image_ref)
    if first is None:
        return False
    return _sidecar(first, "crop.jpg").is_file() or _sidecar(first, "box.json").is_file()
