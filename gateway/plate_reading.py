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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Reading:
    """What the consumer hands on to billing: the plate, and the reader's evidence if any."""

    text: str | None
    confidence: float
    needs_review: bool
    evidence: LprEvidence | None = None
    # Where the reader found the plate, for the review page's zoom: (frame index, x, y, w, h)
    # in the event's frames; None when the camera gave the answer (its text or its own crop).
    box: tuple[int, int, int, int, int] | None = None


class LprEvidence:
    """billing's ``PlateEvidence`` over an lpr read: its n-best list and lpr's scorer.

    Billing may not import lpr; this adapter is the one place the two meet. Scores are cached
    (a lot's candidate plates are few), and the background is computed once.
    """

    def __init__(self, read: Any, score_key: Callable[[Any, str], float], background: float):
        self._read = read
        self._score_key = score_key
        self._background = background
        self._scores: dict[str, float] = {}
        self.hypotheses: tuple[Any, ...] = tuple(read.hypotheses)

    @staticmethod
    def of(read: Any) -> LprEvidence | None:
        """The evidence of ``read``, or None when the read or this lpr has none to give."""
        if read is None or not getattr(read, "hypotheses", None):
            return None
        import lpr  # the scorer lives with the reader; loaded only once a read has evidence

        score_key = getattr(lpr, "score_key", None)
        background = getattr(lpr, "background_logprob", None)
        if score_key is None or background is None:
            return None
        return LprEvidence(read, score_key, float(background(read)))

    @staticmethod
    def safely_of(read: Any) -> LprEvidence | None:
        """``of``, but a failure costs the matching, never the passage (logged)."""
        try:
            return LprEvidence.of(read)
        except Exception as exc:
            log.warning("plate evidence unavailable: %s", exc)
            return None

    def score(self, key: str) -> float:
        if key not in self._scores:
            self._scores[key] = float(self._score_key(self._read, key))
        return self._scores[key]

    def background(self) -> float:
        return self._background


def _box_of(read: Any) -> tuple[int, int, int, int, int] | None:
    bbox = getattr(read, "bbox", None)
    frame = getattr(read, "bbox_frame", -1)
    if bbox is None or not isinstance(frame, int) or frame < 0:
        return None
    x, y, w, h = (int(v) for v in bbox)
    return (frame, x, y, w, h) if w > 0 and h > 0 else None


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
        got = await self.reading(event)
        return got.text, got.confidence, got.needs_review

    async def reading(self, event: GateEvent) -> Reading:
        """The plate, and the reader's evidence for matching against the cars in the lot."""
        started = time.perf_counter()
        if event.edge_read is not None and event.plate_crop is not None:
            return await self._from_edge(event.edge_read, event.plate_crop)
        if event.plate_text:
            confidence = 1.0 if event.plate_confidence is None else event.plate_confidence
            self._metrics.plate_read_seconds.labels(source="camera").observe(0.0)
            return Reading(event.plate_text, confidence, confidence < CAMERA_TEXT_REVIEW_BELOW)
        if self._reader is None:
            log.warning("no plate text and no reader: sent to review")
            return Reading(None, 0.0, True)
        read: PlateReadLike | None = None
        from_crop = False
        try:
            if event.plate_crop is not None:
                # The camera's own plate crop: read as it is ("frame" = the image is the plate);
                # the full frames only when the crop alone is not conclusive.
                read = await asyncio.wrap_future(self._reader([event.plate_crop], "frame", None))
                from_crop = True
            if read is None or not (read.auto_ok and read.text):
                from_frames = await self._read_frames(event.frames)
                if read is None or from_frames.confidence >= read.confidence:
                    read, from_crop = from_frames, False
        except Exception as exc:  # a corrupt frame must not stop the lane
            log.warning("plate reading failed: %s", exc)
            if read is None:
                return Reading(None, 0.0, True)
        finally:
            self._metrics.plate_read_seconds.labels(source="lpr").observe(
                time.perf_counter() - started
            )
        evidence = LprEvidence.safely_of(read)
        return Reading(
            read.text,
            float(read.confidence),
            not (read.auto_ok and read.text),
            evidence,
            None if from_crop else _box_of(read),
        )

    async def _from_edge(self, edge: EdgeRead, crop: bytes) -> Reading:
        """The edge's read when conclusive; else the center reads the crop, never the frames.

        A conclusive edge read goes on as plain text (billing matches it exactly); a read of the
        crop here carries lpr's evidence, so a doubtful plate is matched against the cars inside
        as any other read is."""
        best = edge.best
        if edge.confidence >= self._edge_accept and best.p >= self._edge_accept:
            self._metrics.plate_read_seconds.labels(source="edge").observe(0.0)
            return Reading(best.text, edge.confidence, False)
        if self._reader is None:
            log.info("doubtful edge read %s (%.2f) and no reader: review", best.text, best.p)
            return Reading(best.text, edge.confidence, True)
        started = time.perf_counter()
        try:
            read: PlateReadLike = await asyncio.wrap_future(self._reader([crop], "frame", None))
        except Exception as exc:  # a corrupt crop must not stop the lane
            log.warning("reading the edge's plate crop failed: %s", exc)
            return Reading(best.text, edge.confidence, True)
        finally:
            self._metrics.plate_read_seconds.labels(source="edge_crop").observe(
                time.perf_counter() - started
            )
        evidence = LprEvidence.safely_of(read)
        if read.auto_ok and read.text:
            return Reading(read.text, float(read.confidence), False, evidence)
        # Neither read is sure: the likelier one goes on, for matching or review.
        if read.text and read.confidence > edge.confidence:
            return Reading(read.text, float(read.confidence), True, evidence)
        return Reading(best.text, edge.confidence, True, evidence)

    async def _read_frames(self, frames: Sequence[bytes]) -> PlateReadLike:
        """Frames read one by one until the vote is conclusive, else a vote over all of them.

        Most passages read cleanly from one frame; stopping there roughly halves the reading
        work per event, which is what bounds a lot's throughput on a small gateway.
        """
        assert self._reader is not None
        enough = self._enough
        result: PlateReadLike = await asyncio.wrap_future(self._reader(frames, None, enough))
        return result
