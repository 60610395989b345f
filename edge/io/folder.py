"""A folder of JPEG files as a camera.

Two uses: ``newest`` takes the newest files, for cameras that upload a picture on their own
trigger (FTP or SMB into a folder of the box), refusing files older than ``max_age_s`` (the
camera stopped uploading) with reason ``stale``; ``cycle`` takes the files in name order,
round robin, for recordings of a real lane (benches, demos). A file that is not a whole JPEG is
skipped, counted and logged (``corrupt``), and the next one is taken.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

from edge.io.camera import checked_jpeg, failed
from edge.io.metrics import IoMetrics
from lpr.errors import BadImage
from lpr.images import MAX_BYTES

SUFFIXES = {".jpg", ".jpeg"}


class FolderCamera:
    def __init__(
        self,
        lane: str,
        path: Path,
        *,
        order: Literal["newest", "cycle"] = "newest",
        frames: int = 1,
        max_age_s: float = 10.0,
        metrics: IoMetrics | None = None,
    ) -> None:
        self.lane = lane
        self.folder = path
        self.order = order
        self.frames = frames
        self.max_age_s = max_age_s
        self.metrics = metrics or IoMetrics()
        self._next = 0

    def __str__(self) -> str:
        return f"folder {self.folder} ({self.order})"

    def _files(self) -> list[Path]:
        try:
            files = [
                p for p in self.folder.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file()
            ]
        except OSError as exc:
            raise failed(
                self.metrics, self.lane, "disconnected", f"{self}: {exc.strerror}"
            ) from None
        if not files:
            raise failed(self.metrics, self.lane, "empty", f"{self}: no JPEG files")
        if self.order == "cycle":
            files.sort()
            start = self._next % len(files)
            return files[start:] + files[:start]
        files.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        age = time.time() - files[0].stat().st_mtime
        if age > self.max_age_s:
            raise failed(
                self.metrics, self.lane, "stale", f"{self}: the newest file is {age:.0f} s old"
            )
        return files

    def capture(self, plate_text: str | None = None) -> tuple[list[bytes], bytes | None]:
        jpegs: list[bytes] = []
        tried = 0
        for path in self._files():
            tried += 1
            try:
                if path.stat().st_size > MAX_BYTES:
                    raise BadImage(f"larger than {MAX_BYTES} bytes")
                jpegs.append(checked_jpeg(path.read_bytes())[0])
            except (BadImage, OSError) as exc:
                failed(self.metrics, self.lane, "corrupt", f"{self}: skipped {path.name} ({exc})")
            if len(jpegs) == self.frames:
                break
        self._next += tried
        if not jpegs:
            raise failed(self.metrics, self.lane, "corrupt", f"{self}: no readable JPEG file")
        if self.order == "newest":
            jpegs.reverse()  # oldest first, newest last, as a stream's frames
        self.metrics.camera_frames.labels(self.lane).inc(len(jpegs))
        return jpegs, None
