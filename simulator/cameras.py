"""Simulated cameras for the edge's lanes (``edge.camera.Camera``): what the traffic drives.

A real lane's camera (RTSP, snapshot URL, folder) lives in ``edge.io``; these stand in for it in
the demo, the benchmarks and the tests, and take the plate the traffic says is at the lane.
"""

from __future__ import annotations

import threading

#: Share of passages a SyntheticCamera films under one hard condition (simulator.plates
#: HARD_CASES: dirt, glare, night, motion blur, a tilted plate), so the demo meets them.
HARD_SHARE = 0.15


class SyntheticCamera:
    """Frames drawn by the plate renderer for a given plate (or a random one).

    ``hard_share`` of the passages are filmed under one hard condition, the same for all the
    passage's frames; ``last_hard`` says which one the last capture had (None: an ordinary one).
    """

    def __init__(
        self,
        frames_per_event: int = 2,
        seed: int | None = None,
        quality: int = 80,
        hard_share: float = HARD_SHARE,
    ):
        import numpy as np

        if not 0.0 <= hard_share <= 1.0:
            raise ValueError(f"hard_share must be within 0-1, got {hard_share}")
        self._rng = np.random.default_rng(seed)
        self._n = frames_per_event
        self._quality = quality
        self._hard_share = hard_share
        self._lock = threading.Lock()
        self.last_hard: str | None = None

    def capture(self, plate_text: str | None) -> tuple[list[bytes], bytes | None]:
        from simulator.plates import HARD_CASES, render_passage, spec_from_text

        with self._lock:
            spec = spec_from_text(plate_text) if plate_text else None
            hard = None
            if self._rng.random() < self._hard_share:
                hard = HARD_CASES[int(self._rng.integers(len(HARD_CASES)))]
            frames = render_passage(
                self._rng, self._n, spec, jpeg_quality=self._quality, night=False, hard=hard
            )
            self.last_hard = hard
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
