"""PlateReader: frames -> one voted, calibrated PlateRead.

Per frame: find the plate (OpenCV, or the camera's crop), cut it into line crops, run the
recognizer once on all lines, decode under the plate grammar. Then the frames vote: agreeing
frames add up, so two agreeing reads beat one confident read, and disagreement costs.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from lpr import calibration
from lpr.assemble import ScoredPlate, assemble, grammars_for, posterior
from lpr.decode import decode_line, to_plate_columns
from lpr.errors import BadImage
from lpr.evidence import ceiling, line_slots, merge_views
from lpr.grammar import Plate
from lpr.images import to_bgr
from lpr.lines import split_lines
from lpr.localize import BBox, Localizer, OpenCvLocalizer, PlateRegion
from lpr.recognize import Recognizer
from lpr.score import rank_hypotheses
from lpr.types import Candidate, FrameEvidence, PlateRead

log = logging.getLogger(__name__)

Frame = bytes | bytearray | memoryview | np.ndarray
#: crop: None = full camera frames (find the plate), a box = the camera's plate box in every
#: frame, "frame" = every frame already is a plate crop (with some margin).
Crop = BBox | Literal["frame"] | None
MAX_FRAMES = 5
SMALL_FRAME = 400_000  # pixels: below this a frame with no plate found is read as a crop


@dataclass(frozen=True, slots=True)
class FrameRead:
    plates: tuple[ScoredPlate, ...]
    probs: tuple[float, ...]  # posterior share of each plate
    confidence: float  # calibrated single-frame confidence of plates[0]
    features: tuple[float, ...]  # the calibration features behind it
    bbox: BBox
    lines: int
    colour: str
    evidence: FrameEvidence


#: One recognizer's slots (presence, character distribution) per line of a frame.
_Slots = list[list[tuple[float, np.ndarray]]]
#: Hypotheses kept on a read.
N_BEST = 8


def load_recognizer(name: str = "auto") -> Recognizer:
    """'plate' (the project's model), 'rapidocr', 'easyocr', or 'auto' (plate when present)."""
    if name in ("auto", "plate"):
        try:
            from lpr.recognizers.plate_model import PlateModelRecognizer

            return PlateModelRecognizer()
        except Exception as exc:
            if name == "plate":
                raise
            log.warning("lpr: plate model unavailable (%s); using RapidOCR", exc)
            name = "rapidocr"
    if name == "rapidocr":
        from lpr.recognizers.rapid import RapidOcrRecognizer

        return RapidOcrRecognizer()
    if name == "easyocr":
        from lpr.recognizers.easyocr_en import EasyOcrRecognizer

        return EasyOcrRecognizer()
    raise ValueError(f"unknown recognizer {name!r}")


def _auto_recognizers(
    second: Recognizer | str | None,
) -> tuple[Recognizer, Recognizer | str | None]:
    """The plate-trained model, with RapidOCR voting on its unsure reads; RapidOCR alone
    when the plate model is not installed."""
    try:
        primary = load_recognizer("plate")
    except Exception as exc:  # fall back to a stock model, say why
        log.warning("lpr: plate model unavailable (%s); using RapidOCR", exc)
        return load_recognizer("rapidocr"), second
    return primary, "rapidocr" if second is None else second


def easyocr_installed() -> bool:
    """Whether EasyOCR (and so torch) is installed, without importing either."""
    return importlib.util.find_spec("easyocr") is not None


class PlateReader:
    def __init__(
        self,
        recognizer: Recognizer | str = "auto",
        localizer: Localizer | None = None,
        threshold: float | None = None,
        retry_below: float = 0.9,
        craft_fallback: bool | None = None,
        second: Recognizer | str | None = None,
        cascade_below: float = 1.01,
    ) -> None:
        """recognizer: an instance or a name; "a+b" reads with a, and with b too when a's
        confidence is below cascade_below (then the two vote). craft_fallback: CRAFT (EasyOCR's
        detector, on torch) as the last resort on a crop; None = when EasyOCR is installed
        (``parking[easyocr]``), so a lean install (``parking[edge]``) never looks for torch."""
        if recognizer == "auto":
            recognizer, second = _auto_recognizers(second)
        if isinstance(recognizer, str) and "+" in recognizer:
            recognizer, second = recognizer.split("+", 1)
        self.recognizer = load_recognizer(recognizer) if isinstance(recognizer, str) else recognizer
        self.second = load_recognizer(second) if isinstance(second, str) else second
        self.cascade_below = cascade_below
        self.localizer = localizer or OpenCvLocalizer()
        self.threshold = calibration.THRESHOLD if threshold is None else threshold
        self.retry_below = retry_below
        self.craft_fallback = easyocr_installed() if craft_fallback is None else craft_fallback
        self._craft: Any = None

    def warm_up(self) -> None:
        """First inference allocates and JIT-plans; do it before the first car arrives."""
        line = np.full((40, 160, 3), 255, np.uint8)
        line[10:30, 20:140:20] = 0
        self.recognizer.step_probs([line, line])
        if self.second is not None:
            self.second.step_probs([line, line])
        if self.craft_fallback:
            self._craft_lines(np.full((64, 96, 3), 255, np.uint8))

    def _craft_lines(self, crop: np.ndarray) -> list[np.ndarray]:
        if self._craft is None:
            from lpr.craft import CraftLines

            self._craft = CraftLines()
        return self._craft.lines(crop)

    # -- one frame ----------------------------------------------------------------------
    def _read_region(
        self, region: PlateRegion, n_lines: int | None, lines: list[np.ndarray] | None = None
    ) -> FrameRead | None:
        if lines is None:
            pl = split_lines(region.image, n_lines if n_lines is not None else region.lines_hint)
            lines = list(pl.lines)
        if not 1 <= len(lines) <= 2:
            return None
        first, slots = self._decode(lines, self.recognizer)
        best = first
        views = [slots]
        if self.second is not None and (first is None or first[3] < self.cascade_below):
            # The fast recognizer is unsure: ask the second one on the same lines and let the
            # two vote (agreement keeps the confidence, disagreement sends it to review).
            second, slots2 = self._decode(lines, self.second)
            best = _fuse(first, second)
            views.append(slots2)
        if best is None:
            return None
        plates, post, feats, conf = best
        per_line = tuple(merge_views([v[i] for v in views]) for i in range(len(lines)))
        evidence = FrameEvidence(per_line, ceiling(per_line))
        return FrameRead(
            tuple(plates), tuple(post), conf, feats, region.bbox, len(lines), region.colour,
            evidence,
        )  # fmt: skip

    def _decode(self, lines: list[np.ndarray], rec: Recognizer) -> tuple[_Decoded | None, _Slots]:
        probs = rec.step_probs(lines)
        slots = [line_slots(p, rec.charset) for p in probs]
        decodes = []
        greedy = 0.0
        for p, g in zip(probs, grammars_for(len(lines)), strict=True):
            d = decode_line(to_plate_columns(p, rec.charset), g)
            decodes.append(d)
            greedy += d.greedy_logp
        hyphen_col = rec.charset.find("-")
        top_hyphen = (
            float(probs[0][:, hyphen_col].sum()) if len(lines) == 2 and hyphen_col > 0 else None
        )
        plates = assemble(decodes, top_hyphen=top_hyphen)
        if not plates:
            return None, slots
        post = posterior(plates)
        feats = calibration.features(post[0], plates[0].logp - greedy, plates[0].plate)
        return (plates, post, feats, calibration.confidence_from(feats)), slots

    def _regions(self, img: np.ndarray, crop: Crop) -> list[PlateRegion]:
        if crop == "frame":
            return self._crop_regions(img)
        if crop is not None:
            x, y, w, h = (int(v) for v in crop)
            H, W = img.shape[:2]
            mx, my = int(0.1 * w), int(0.15 * h)
            x0, y0 = max(0, x - mx), max(0, y - my)
            x1, y1 = min(W, x + w + mx), min(H, y + h + my)
            if x1 - x0 < 8 or y1 - y0 < 8:
                raise BadImage(f"crop {crop} is outside the {W}x{H} frame")
            return [_shift(r, x0, y0) for r in self._crop_regions(img[y0:y1, x0:x1])]
        regions = self.localizer.locate(img, max_regions=2)
        if not regions and img.shape[0] * img.shape[1] <= SMALL_FRAME:
            regions = self._crop_regions(img)
        return regions

    def _crop_regions(self, crop: np.ndarray) -> list[PlateRegion]:
        """The refined plate inside a crop, then the crop as it is (when they differ)."""
        refined = self.localizer.refine(crop)
        if refined.score <= 0:
            # No plate face fills the crop: it may be a loose crop (a vehicle's rear) with a
            # small plate in it, which the frame localizer finds.
            return [refined, *self.localizer.locate(crop, max_regions=1)]
        H, W = crop.shape[:2]
        whole = PlateRegion(crop, (0, 0, W, H), None, refined.colour, 0.0)
        return [refined, whole]

    def _read_frame(self, img: np.ndarray, crop: Crop, t: dict[str, float]) -> FrameRead | None:
        t0 = time.perf_counter()
        regions = self._regions(img, crop)
        t["locate"] = t.get("locate", 0.0) + (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        best: FrameRead | None = None
        for region in regions:
            fr = self._read_region(region, None)
            if fr is not None and (best is None or fr.confidence > best.confidence):
                best = fr
            if best is not None and best.confidence >= self.retry_below:
                break
        if regions and (best is None or best.confidence < self.retry_below):
            # Retry with the other line count: a wrong layout guess is a common cause of a
            # poor read on crops whose shape is ambiguous.
            region = regions[0]
            other = 1 if (best.lines if best else region.lines_hint or 2) == 2 else 2
            fr = self._read_region(region, other)
            if fr is not None and (best is None or fr.confidence > best.confidence):
                best = fr
        if best is None and regions and crop is not None and self.craft_fallback:
            # Last resort, small image only: let CRAFT find the text lines in the crop.
            t1 = time.perf_counter()
            region = regions[-1]
            try:
                best = self._read_region(region, None, self._craft_lines(region.image))
            except Exception:  # a fallback must never break the read
                log.exception("lpr: CRAFT fallback failed")
            t["craft"] = t.get("craft", 0.0) + (time.perf_counter() - t1) * 1000
        t["read"] = t.get("read", 0.0) + (time.perf_counter() - t0) * 1000
        return best

    # -- the passage ----------------------------------------------------------------------
    def read(
        self, frames: Sequence[Frame] | Frame, crop: Crop = None, *, enough: float | None = None
    ) -> PlateRead:
        """Read and vote the frames of one passage.

        ``enough``: read the frames one by one and stop as soon as the vote over the frames
        read so far is auto-ok with at least this confidence (most passages read cleanly from
        their first frame; the others are voted over more frames, each read once). Without it
        every frame is decoded first, so a corrupt frame anywhere is an error.
        """
        t_all, c_all = time.perf_counter(), time.process_time()
        if isinstance(frames, bytes | bytearray | memoryview | np.ndarray):
            frames = [frames]
        if not 1 <= len(frames) <= MAX_FRAMES:
            raise BadImage(f"expected 1-{MAX_FRAMES} frames, got {len(frames)}")
        t: dict[str, float] = {}
        if enough is None:
            t0 = time.perf_counter()
            images = [to_bgr(f) for f in frames]
            t["decode"] = (time.perf_counter() - t0) * 1000
            reads = [r for r in (self._read_frame(img, crop, t) for img in images) if r is not None]
            result = self._vote(reads, len(images))
        else:
            result = self._read_until(frames, crop, enough, t)
        t["total"] = (time.perf_counter() - t_all) * 1000
        t["cpu"] = (time.process_time() - c_all) * 1000  # this process's CPU, all threads
        name = self.recognizer.name + (f"+{self.second.name}" if self.second else "")
        return _replace_timings(result, t, name)

    def _read_until(
        self, frames: Sequence[Frame], crop: Crop, enough: float, t: dict[str, float]
    ) -> PlateRead:
        reads: list[FrameRead] = []
        for n, frame in enumerate(frames, start=1):
            t0 = time.perf_counter()
            img = to_bgr(frame)
            t["decode"] = t.get("decode", 0.0) + (time.perf_counter() - t0) * 1000
            fr = self._read_frame(img, crop, t)
            if fr is not None:
                reads.append(fr)
                so_far = self._vote(reads, n)
                if n < len(frames) and so_far.auto_ok and so_far.confidence >= enough:
                    return so_far
        return self._vote(reads, len(frames))

    def _vote(self, reads: list[FrameRead], n_frames: int) -> PlateRead:
        if not reads:
            return PlateRead(None, None, 0.0, False, "other", 0, None)
        # Each frame spreads its calibrated confidence over its candidates by posterior share.
        votes: dict[str, float] = {}
        plates: dict[str, Plate] = {}
        support: dict[str, list[float]] = {}
        for r in reads:
            for sp, share in zip(r.plates, r.probs, strict=True):
                k = sp.plate.key
                votes[k] = votes.get(k, 0.0) + share * r.confidence
                plates.setdefault(k, sp.plate)
            support.setdefault(r.plates[0].plate.key, []).append(r.confidence)
        ranked = sorted(votes, key=lambda k: votes[k], reverse=True)
        best = ranked[0]
        agree = support.get(best, [])
        against = [r.confidence for r in reads if r.plates[0].plate.key != best]
        # Noisy-or over agreeing frames, discounted by every confident dissenting frame.
        conf = 1.0 - math.prod(1.0 - c for c in agree) if agree else votes[best] / len(reads)
        conf *= math.prod(1.0 - c for c in against)
        total = sum(votes.values()) or 1.0
        cands = tuple(Candidate(plates[k].text, k, round(votes[k] / total, 4)) for k in ranked[:5])
        top = max(reads, key=lambda r: r.confidence if r.plates[0].plate.key == best else -1)
        plate = plates[best]
        conf = round(min(1.0, max(0.0, conf)), 4)
        evidence = tuple(r.evidence for r in reads)
        hypotheses = rank_hypotheses(evidence, ((plates[k].text, k) for k in ranked), n=N_BEST)
        return PlateRead(
            text=plate.text,
            key=plate.key,
            confidence=conf,
            auto_ok=conf >= self.threshold,
            kind=plate.kind,
            lines=plate.lines,
            bbox=top.bbox,
            candidates=cands,
            colour=top.colour,
            frames=len(agree),
            hypotheses=hypotheses,
            evidence=evidence,
        )


_Decoded = tuple[list[ScoredPlate], list[float], tuple[float, float, float], float]


def _fuse(a: _Decoded | None, b: _Decoded | None) -> _Decoded | None:
    """Average the two recognizers' posteriors per plate key; gap of the better-agreeing one."""
    if a is None or b is None:
        return a or b
    share: dict[str, float] = {}
    plate_of: dict[str, ScoredPlate] = {}
    gap: dict[str, float] = {}
    for plates, post, feats, _ in (a, b):
        for sp, p in zip(plates, post, strict=True):
            k = sp.plate.key
            share[k] = share.get(k, 0.0) + p / 2
            plate_of.setdefault(k, sp)
        k0 = plates[0].plate.key
        gap[k0] = max(gap.get(k0, -20.0), feats[1])
    ranked = sorted(share, key=lambda k: share[k], reverse=True)
    top = ranked[0]
    plates_out = [plate_of[k] for k in ranked]
    post_out = [share[k] for k in ranked]
    feats = calibration.features(post_out[0], gap.get(top, -20.0), plate_of[top].plate)
    return plates_out, post_out, feats, calibration.confidence_from(feats)


def _shift(r: PlateRegion, dx: int, dy: int) -> PlateRegion:
    x, y, w, h = r.bbox
    return PlateRegion(r.image, (x + dx, y + dy, w, h), r.lines_hint, r.colour, r.score)


def _replace_timings(r: PlateRead, t: dict[str, float], name: str) -> PlateRead:
    from dataclasses import replace

    return replace(r, timings_ms={k: round(v, 2) for k, v in t.items()}, recognizer=name)
