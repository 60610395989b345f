"""What a lane needs of a camera: one method, so real cameras (``edge.io``) and the simulator's
synthetic ones plug in alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Camera(Protocol):
    def capture(self, plate_text: str | None) -> tuple[Sequence[bytes], bytes | None]:
        """JPEG frames (1-5) of the vehicle at the lane and an optional plate crop (JPEG).

        ``plate_text`` is what the trigger knows of the plate, usually nothing: a real camera
        ignores it, a simulated one draws that plate.
        """
        ...
