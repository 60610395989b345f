"""An RTSP camera through OpenCV's FFmpeg backend, always holding only its newest frame.

A reader thread pulls the stream as fast as the camera sends it and keeps the last decoded
frame, so a capture costs no decoding latency and never gets a frame from a buffer seconds
old. When the stream fails (camera rebooted, cable pulled, read timeout) the thread reconnects
with capped exponential backoff (``reconnect_min_s`` doubling to ``reconnect_max_s``) and logs
the loss and the return once each; every attempt is counted in ``edge_camera_reconnects``.
A capture while no frame newer than ``max_frame_age_s`` exists fails with reason ``stale``
(the stream stalled) or ``disconnected`` (no connection), and the lane goes on without
pictures rather than with old ones. The camera also serves the motion trigger
(``latest_image``).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from edge.io.camera import encode_jpeg, failed
from edge.io.metrics import IoMetrics

log = logging.getLogger(__name__)

# OpenCV reads FFmpeg's options for a capture from this variable when the capture is opened:
# set it and open under one lock, so two cameras with other transports do not mix them up.
_OPEN_LOCK = threading.Lock()
_FFMPEG_OPTIONS = "OPENCV_FFMPEG_CAPTURE_OPTIONS"


def redact(url: str) -> str:
    """The URL without its password, for logs."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def _quiet_opencv() -> None:
    """A camera that is down would print FFmpeg's and OpenCV's own lines at every reconnect
    (the latter misleading: "can't be used to capture by name"); the camera logs one line of its
    own instead. Settings made by the user (OPENCV_LOG_LEVEL, OPENCV_FFMPEG_LOGLEVEL) win."""
    import cv2

    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    if "OPENCV_LOG_LEVEL" not in os.environ:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def open_ffmpeg(url: str, transport: str, open_timeout_s: float, read_timeout_s: float) -> Any:
    import cv2

    _quiet_opencv()
    with _OPEN_LOCK:
        before = os.environ.get(_FFMPEG_OPTIONS)
        os.environ[_FFMPEG_OPTIONS] = f"rtsp_transport;{transport}"
        try:
            return cv2.VideoCapture(
                url,
                cv2.CAP_FFMPEG,
                [
                    cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                    int(open_timeout_s * 1000),
                    cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                    int(read_timeout_s * 1000),
                ],
            )
        finally:
            if before is None:
                os.environ.pop(_FFMPEG_OPTIONS, None)
            else:
                os.environ[_FFMPEG_OPTIONS] = before


class RtspCamera:
    def __init__(
        self,
        lane: str,
        url: str,
        *,
        frames: int = 2,
        frame_interval_s: float = 0.15,
        transport: str = "tcp",
        jpeg_quality: int = 85,
        open_timeout_s: float = 5.0,
        read_timeout_s: float = 5.0,
        max_frame_age_s: float = 2.0,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 30.0,
        metrics: IoMetrics | None = None,
        opener: Callable[[str, str, float, float], Any] = open_ffmpeg,
    ) -> None:
        self.lane = lane
        self.url = url
        self.frames = frames
        self.frame_interval_s = frame_interval_s
        self.transport = transport
        self.jpeg_quality = jpeg_quality
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.max_frame_age_s = max_frame_age_s
        self.reconnect_min_s = reconnect_min_s
        self.reconnect_max_s = reconnect_max_s
        self.metrics = metrics or IoMetrics()
        self._opener = opener
        self._new_frame = threading.Condition()
        self._frame: np.ndarray | None = None
        self._taken = 0.0  # time.monotonic() of _frame
        self._seq = 0
        self._connected = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __str__(self) -> str:
        return f"rtsp {redact(self.url)}"

    # --- the reader thread ------------------------------------------------------------------

    def start(self) -> RtspCamera:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._read_loop, name=f"rtsp-{self.lane}", daemon=True
            )
            self._thread.start()
        return self

    def close(self, timeout: float | None = None) -> None:
        """Stop the reader; it may be inside a read for up to ``read_timeout_s``."""
        self._stop.set()
        with self._new_frame:
            self._new_frame.notify_all()
        if self._thread is not None:
            self._thread.join(self.read_timeout_s + 1 if timeout is None else timeout)
            self._thread = None

    def _read_loop(self) -> None:
        delay = self.reconnect_min_s
        lost_at: float | None = None
        while not self._stop.is_set():
            self.metrics.camera_reconnects.labels(self.lane).inc()
            cap = self._opener(self.url, self.transport, self.open_timeout_s, self.read_timeout_s)
            try:
                if cap.isOpened():
                    got = self._pull(cap)
                    if got and lost_at is not None:
                        log.info(
                            "lane %s camera: %s back after %.1f s",
                            self.lane,
                            self,
                            time.monotonic() - lost_at,
                        )
                        lost_at = None
                    if got:
                        delay = self.reconnect_min_s
            finally:
                cap.release()
                self._connected = False
            if self._stop.is_set():
                break
            if lost_at is None:
                lost_at = time.monotonic()
                self.metrics.camera_errors.labels(self.lane, "disconnected").inc()
                log.warning(
                    "lane %s camera: %s lost (or unreachable); reconnecting with backoff",
                    self.lane,
                    self,
                )
            self._stop.wait(delay)
            delay = min(delay * 2, self.reconnect_max_s)

    def _pull(self, cap: Any) -> bool:
        """Read frames until the stream fails or the camera is closed; whether any came."""
        got = False
        while not self._stop.is_set():
            ok, frame = cap.read()
            if not ok or frame is None:
                return got
            if not got:
                got = True
                self._connected = True
            with self._new_frame:
                self._frame, self._taken = frame, time.monotonic()
                self._seq += 1
                self._new_frame.notify_all()
        return got

    # --- what the lane asks -----------------------------------------------------------------

    def latest_image(self) -> tuple[np.ndarray, float] | None:
        with self._new_frame:
            return None if self._frame is None else (self._frame, self._taken)

    def _next_frame(
        self, after_seq: int, not_before: float, deadline: float
    ) -> tuple[np.ndarray, int] | None:
        """The first frame newer than ``after_seq`` taken at ``not_before`` or later."""
        with self._new_frame:
            while True:
                if self._frame is not None and self._seq > after_seq and self._taken >= not_before:
                    return self._frame, self._seq
                left = deadline - time.monotonic()
                if left <= 0 or self._stop.is_set():
                    return None
                self._new_frame.wait(left)

    def capture(self, plate_text: str | None = None) -> tuple[list[bytes], bytes | None]:
        if self._thread is None:
            self.start()
        now = time.monotonic()
        first = self._next_frame(-1, now - self.max_frame_age_s, now + self.max_frame_age_s)
        if first is None:
            reason = "stale" if self._connected else "disconnected"
            raise failed(
                self.metrics,
                self.lane,
                reason,
                f"{self}: no frame in the last {self.max_frame_age_s:g} s ({reason})",
            )
        images = [first[0]]
        seq = first[1]
        while len(images) < self.frames:
            start = time.monotonic()
            nxt = self._next_frame(
                seq,
                start + self.frame_interval_s,
                start + self.frame_interval_s + self.max_frame_age_s,
            )
            if nxt is None:
                break  # the stream stalled after the first frame: send what we have
            images.append(nxt[0])
            seq = nxt[1]
        jpegs = [encode_jpeg(img, self.jpeg_quality) for img in images]
        self.metrics.camera_frames.labels(self.lane).inc(len(jpegs))
        return jpegs, None
