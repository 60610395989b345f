"""Vehicle triggers: when to take the pictures of a lane, once per vehicle.

- :class:`LoopTrigger`: an induction loop detector's relay on a digital input. The input must
  hold its new level for ``debounce_s`` before it counts (contact bounce, a bicycle's blip), and
  only the rising edge is an event; a car already on the loop when the box starts is one event.
- :class:`MotionTrigger`: a vehicle entering a region of the lane's image, for lanes without a
  loop. The region is compared with a learnt picture of it empty (brightness-normalized, so a
  cloud or headlights sweeping the whole image do not count); the event fires when enough of
  the region differs, and the trigger re-arms only once the region has looked empty again for
  ``clear_s`` and ``cooldown_s`` has passed since the last event. So a car that stops at the
  barrier and drives on is one event, not two. The empty picture follows slow light changes
  while the region is empty; a region that stays changed for ``relearn_after_s`` (a parked
  object, a moved camera) is taken as the new empty picture, with a warning.

Both answer ``poll() -> bool``, called every few tens of milliseconds by the lane.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

import numpy as np

from edge.io.metrics import IoMetrics
from edge.io.points import DigitalInput, IoError

log = logging.getLogger(__name__)


class VehicleTrigger(Protocol):
    def poll(self) -> bool:
        """True once for each vehicle that arrives."""
        ...


class ImageFeed(Protocol):
    def latest_image(self) -> tuple[np.ndarray, float] | None:
        """The newest BGR frame and when it was taken (``time.monotonic()``), or None."""
        ...


class LoopTrigger:
    def __init__(
        self,
        lane: str,
        loop: DigitalInput,
        *,
        debounce_s: float = 0.1,
        metrics: IoMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lane = lane
        self.loop = loop
        self.debounce_s = debounce_s
        self.metrics = metrics or IoMetrics()
        self.clock = clock
        self._level = False  # the debounced level
        self._raw = False
        self._raw_since = clock()

    def poll(self) -> bool:
        try:
            raw = self.loop.read()
        except IoError:  # logged and counted by the device; the level stays as it was
            return False
        now = self.clock()
        if raw != self._raw:
            self._raw, self._raw_since = raw, now
        if raw == self._level or now - self._raw_since < self.debounce_s:
            return False
        self._level = raw
        if raw:
            self.metrics.triggers.labels(self.lane, "loop").inc()
            log.info("lane %s: vehicle on the loop", self.lane)
        return raw


class RegionPresence:
    """Whether a grey image of the region differs from the learnt empty one."""

    def __init__(
        self, threshold: float, *, pixel_delta: float = 25.0, learn_rate: float = 0.05
    ) -> None:
        self.threshold = threshold
        self.pixel_delta = pixel_delta
        self.learn_rate = learn_rate
        self._empty: np.ndarray | None = None
        self.share = 0.0  # of the region that differs, at the last update

    def update(self, grey: np.ndarray) -> bool:
        img = grey.astype(np.float32)
        img -= float(img.mean())  # brightness-normalized: a global light change is no vehicle
        if self._empty is None or self._empty.shape != img.shape:
            self._empty = img
            self.share = 0.0
            return False
        self.share = float((np.abs(img - self._empty) > self.pixel_delta).mean())
        present = self.share >= self.threshold
        if not present:
            self._empty += self.learn_rate * (img - self._empty)
        return present

    def relearn(self) -> None:
        self._empty = None


class MotionTrigger:
    WIDTH = 96  # the region is compared at this width: enough for a car, cheap at 25 fps

    def __init__(
        self,
        lane: str,
        feed: ImageFeed,
        *,
        region: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0),
        threshold: float = 0.12,
        cooldown_s: float = 3.0,
        clear_s: float = 1.0,
        relearn_after_s: float = 300.0,
        metrics: IoMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lane = lane
        self.feed = feed
        self.region = region
        self.cooldown_s = cooldown_s
        self.clear_s = clear_s
        self.relearn_after_s = relearn_after_s
        self.metrics = metrics or IoMetrics()
        self.clock = clock
        self.presence = RegionPresence(threshold)
        self._last_taken: float | None = None
        self._armed = True
        self._last_event = -float("inf")
        self._present_since: float | None = None
        self._clear_since: float | None = None

    def _grey_region(self, frame: np.ndarray) -> np.ndarray:
        import cv2

        h, w = frame.shape[:2]
        x, y, rw, rh = self.region
        x0, y0 = int(x * w), int(y * h)
        x1, y1 = max(x0 + 1, int((x + rw) * w)), max(y0 + 1, int((y + rh) * h))
        roi = frame[y0:y1, x0:x1]
        grey = cv2.cvtColor(roi, cv2.COLOR_BGR2GRAY) if roi.ndim == 3 else roi
        scale = self.WIDTH / max(grey.shape[1], 1)
        small = cv2.resize(grey, (self.WIDTH, max(1, round(grey.shape[0] * scale))))
        return cv2.GaussianBlur(small, (5, 5), 0)

    def poll(self) -> bool:
        got = self.feed.latest_image()
        if got is None:
            return False
        frame, taken = got
        if taken == self._last_taken:
            return False  # no new frame since the last poll
        self._last_taken = taken
        present = self.presence.update(self._grey_region(frame))
        now = self.clock()
        if not present:
            self._present_since = None
            self._clear_since = self._clear_since if self._clear_since is not None else now
            if not self._armed and now - self._clear_since >= self.clear_s:
                self._armed = True
            return False
        self._clear_since = None
        self._present_since = self._present_since if self._present_since is not None else now
        if now - self._present_since >= self.relearn_after_s:
            log.warning(
                "lane %s: the trigger region has looked different for %.0f s; taking it as the "
                "new empty lane",
                self.lane,
                now - self._present_since,
            )
            self.presence.relearn()
            self._present_since = None
            return False
        if self._armed and now - self._last_event >= self.cooldown_s:
            self._armed = False
            self._last_event = now
            self.metrics.triggers.labels(self.lane, "motion").inc()
            log.info(
                "lane %s: vehicle in the trigger region (%.0f %% changed)",
                self.lane,
                100 * self.presence.share,
            )
            return True
        return False
