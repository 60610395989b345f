"""How the consumer gets a passage's plate: the edge's read, the camera's own text, its plate
crop, or the frames.

An edge read (``GateEvent.edge_read``: the gate box's n-best with probabilities) is trusted as it
is when it is conclusive: its calibrated confidence and its best plate's probability both at
least ``edge_accept``. Only a doubtful one costs the center a reading, and only of the plate
crop the edge read it from (a crop is a few kilobytes, a frame is a 1280x720 picture).

Reading runs in the LPR process pool (``read_plate`` returns a ``concurrent.futures.Future``),
awaited here, so the event loop stays free for the other lanes while a plate is read. A failed or
inconclusive reading never guesses: the passage goes to review.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Protocol

from gateway.metrics import Metrics
from gateway.protocol import EdgeRead, GateEvent

log = logging.getLogger(__name__)

CAMERA_TEXT_REVIEW_BELOW = 0.80
# An edge read at least this sure (confidence and best plate's probability) is not read again.
EDGE_READ_ACCEPT = 0.90


class PlateReadLike(Protocol):
    text: str | None
    confidence: float
    auto_ok: bool


# lpr.pool.ReaderPool.read: frames, a crop hint (None, a bbox, or "frame" for plate crops) and
# the confidence at which the reader may stop before the last frame (None: read them all).
ReadPlateFn = Callable[[Sequence[bytes], Any, float | None], "Future[Any]"]


class PlateReading:
    def __init__(
        self,
        reader: ReadPlateFn | None,
        metrics: Metrics,
        *,
        progressive: bool = True,
        first_frame_accept: float = 0.95,
        edge_accept: float = EDGE_READ_ACCEPT,
    ) -> None:
        self._reader = reader
        self._metrics = metrics
        # With progressive reading the reader stops at the first frame this sure of itself.
        self._enough = first_frame_accept if progressive else None
        self._edge_accept = edge_accept

    async def read(self, event: GateEvent) -> tuple[str | None, float, bool]:
        """(plate text or None, confidence, needs review) for billing's PassageInput."""
        started = time.perf_counter()
        if event.edge_read is not None and event.plate_crop is not None:
            return await self._from_edge(event.edge_read, event.plate_crop)
        if event.plate_text:
            confidence = 1.0 if event.plate_confidence is None else event.plate_confidence
            self._metrics.plate_read_seconds.labels(source="camera").observe(0.0)
            return event.plate_text, confidence, confidence < CAMERA_TEXT_REVIEW_BELOW
        if self._reader is None:
            log.warning("no plate text and no reader: sent to review")
            return None, 0.0, True
        read: PlateReadLike | None = None
        try:
            if event.plate_crop is not None:
                # The camera's own plate crop: read as it is ("frame" = the image is the plate);
                # the full frames only when the crop alone is not conclusive.
                read = await asyncio.wrap_future(self._reader([event.plate_crop], "frame", None))
            if read is None or not (read.auto_ok and read.text):
                from_frames = await self._read_frames(event.frames)
                if read is None or from_frames.confidence >= read.confidence:
                    read = from_frames
        except Exception as exc:  # a corrupt frame must not stop the lane
            log.warning("plate reading failed: %s", exc)
            if read is None:
                return None, 0.0, True
        finally:
            self._metrics.plate_read_seconds.labels(source="lpr").observe(
                time.perf_counter() - started
            )
        return read.text, float(read.confidence), not (read.auto_ok and read.text)

    async def _from_edge(self, edge: EdgeRead, crop: bytes) -> tuple[str | None, float, bool]:
        """The edge's read when conclusive; else the center reads the crop, never the frames."""
        best = edge.best
        if edge.confidence >= self._edge_accept and best.p >= self._edge_accept:
            self._metrics.plate_read_seconds.labels(source="edge").observe(0.0)
            return best.text, edge.confidence, False
        if self._reader is None:
            log.info("doubtful edge read %s (%.2f) and no reader: review", best.text, best.p)
            return best.text, edge.confidence, True
        started = time.perf_counter()
        try:
            read: PlateReadLike = await asyncio.wrap_future(self._reader([crop], "frame", None))
        except Exception as exc:  # a corrupt crop must not stop the lane
            log.warning("reading the edge's plate crop failed: %s", exc)
            return best.text, edge.confidence, True
        finally:
            self._metrics.plate_read_seconds.labels(source="edge_crop").observe(
                time.perf_counter() - started
            )
        if read.auto_ok and read.text:
            return read.text, float(read.confidence), False
        # Neither read is sure: the likelier one goes to review.
        if read.text and read.confidence > edge.confidence:
            return read.text, float(read.confidence), True
        return best.text, edge.confidence, True

    async def _read_frames(self, frames: Sequence[bytes]) -> PlateReadLike:
        """Frames read one by one until the vote is conclusive, else a vote over all of them.

        Most passages read cleanly from one frame; stopping there roughly halves the reading
        work per event, which is what bounds a lot's throughput on a small gateway.
        """
        assert self._reader is not None
        enough = self._enough
        result: PlateReadLike = await asyncio.wrap_future(self._reader(frames, None, enough))
        return result
