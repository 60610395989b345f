"""Simulated cameras for the edge's lanes (``edge.camera.Camera``): what the traffic drives.

A real lane's camera (RTSP, snapshot URL, folder) lives in ``edge.io``; these stand in for it in
the demo, the benchmarks and the tests, and take the plate the traffic says is at the lane.
"""

from __future__ import annotations

import threading


class SyntheticCamera:
    """Frames drawn by the plate renderer for a given plate (or a random one)."""

    def __init__(self, frames_per_event: int = 2, seed: int | None = None, quality: int = 80):
        import numpy as np

        self._rng = np.random.default_rng(seed)
        self._n = frames_per_event
        self._quality = quality
        self._lock = threading.Lock()

    def capture(self, plate_text: str | None) -> tuple[list[bytes], bytes | None]:
        from simulator.plates import render_frame, spec_from_text

        with self._lock:
            spec = spec_from_text(plate_text) if plate_text else None
            frames = [
                render_frame(self._rng, spec, jpeg_quality=self._quality, night=False)
                for _ in range(self._n)
            ]
        return [f.jpeg for f in frames if f.jpeg], None


class TinyCamera:
    """A minimal valid JPEG: for gates whose camera reads the plate itself (text in the event)."""

    _JPEG: bytes | None = None

    def capture(self, plate_text: str | None) -> tuple[list[bytes], bytes | None]:
        if TinyCamera._JPEG is None:
            import io

            from PIL import Image

            buf = io.BytesIO()
            Image.new("RGB", (64, 32), (200, 200, 200)).save(buf, format="JPEG", quality=60)
            TinyCamera._JPEG = buf.getvalue()
        return [TinyCamera._JPEG], None
