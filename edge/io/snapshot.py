"""An HTTP snapshot camera: ``GET`` one JPEG per frame (ONVIF's snapshot URI, ``snapshot.jpg``).

Most IP cameras serve their current picture at a URL behind HTTP basic or digest auth
(Hikvision ``/ISAPI/Streaming/channels/101/picture``, Dahua ``/cgi-bin/snapshot.cgi``, Axis
``/axis-cgi/jpg/image.cgi``). Each frame is one request with a timeout; a refused login, an
HTTP error, a body that is not a whole JPEG, or one larger than 16 MiB is a
:class:`CameraError` (counted, logged, with the URL's password left out), and the next capture
simply tries again: there is no connection to keep.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np

from edge.io.camera import CameraError, checked_jpeg, failed
from edge.io.metrics import IoMetrics
from edge.io.rtsp import redact
from lpr.errors import BadImage
from lpr.images import MAX_BYTES


class SnapshotCamera:
    def __init__(
        self,
        lane: str,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        auth: Literal["basic", "digest"] = "digest",
        frames: int = 2,
        frame_interval_s: float = 0.15,
        timeout_s: float = 3.0,
        verify_tls: bool = True,
        metrics: IoMetrics | None = None,
    ) -> None:
        import httpx

        self.lane = lane
        self.url = url
        self.frames = frames
        self.frame_interval_s = frame_interval_s
        self.metrics = metrics or IoMetrics()
        credentials: Any = None
        if username is not None:
            credentials = (
                httpx.DigestAuth(username, password or "")
                if auth == "digest"
                else httpx.BasicAuth(username, password or "")
            )
        self._http = httpx.Client(auth=credentials, timeout=timeout_s, verify=verify_tls)

    def __str__(self) -> str:
        return f"snapshot {redact(self.url)}"

    def close(self) -> None:
        self._http.close()

    def _fetch(self) -> tuple[bytes, np.ndarray]:
        import httpx

        try:
            with self._http.stream("GET", self.url) as reply:
                if reply.status_code != 200:
                    raise failed(
                        self.metrics, self.lane, "http", f"{self}: HTTP {reply.status_code}"
                    )
                body = bytearray()
                for chunk in reply.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BYTES:
                        raise failed(
                            self.metrics,
                            self.lane,
                            "corrupt",
                            f"{self}: more than {MAX_BYTES} bytes",
                        )
        except httpx.TimeoutException:
            raise failed(self.metrics, self.lane, "timeout", f"{self}: no answer in time") from None
        except httpx.HTTPError as exc:
            raise failed(
                self.metrics, self.lane, "disconnected", f"{self}: unreachable ({exc})"
            ) from None
        try:
            return checked_jpeg(bytes(body))
        except BadImage as exc:
            raise failed(self.metrics, self.lane, "corrupt", f"{self}: bad frame ({exc})") from None

    def capture(self, plate_text: str | None = None) -> tuple[list[bytes], bytes | None]:
        jpegs = [self._fetch()[0]]
        while len(jpegs) < self.frames:
            time.sleep(self.frame_interval_s)
            try:
                jpegs.append(self._fetch()[0])
            except CameraError:  # counted and logged; one frame is enough to go on
                break
        self.metrics.camera_frames.labels(self.lane).inc(len(jpegs))
        return jpegs, None
