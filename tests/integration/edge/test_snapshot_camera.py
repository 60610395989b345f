"""The HTTP snapshot camera against a small local camera: digest and basic auth, a wrong
password, a corrupt picture, a camera too slow to answer, and one that is off."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import cv2
import numpy as np
import pytest

from edge.io.camera import CameraError
from edge.io.metrics import IoMetrics
from edge.io.snapshot import SnapshotCamera
from tests.conftest import free_port

pytestmark = pytest.mark.integration

USER, PASSWORD, REALM = "admin", "cam-pass", "IP Camera"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class Camera:
    """What the fake camera does: its picture, its auth scheme, and how it misbehaves."""

    def __init__(self, auth: Literal["digest", "basic"]) -> None:
        self.auth = auth
        self.mode: Literal["ok", "corrupt", "slow"] = "ok"
        self.frame_no = 0
        self.requests = 0
        self.nonce = "4f2a9c71d0b3"

    def jpeg(self) -> bytes:
        self.frame_no += 1
        img = np.full((720, 1280, 3), 40 + 10 * (self.frame_no % 10), np.uint8)
        ok, buf = cv2.imencode(".jpg", img)
        assert ok
        return buf.tobytes()

    def authorised(self, header: str | None, method: str) -> bool:
        if header is None:
            return False
        if self.auth == "basic":
            return header == "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if not header.startswith("Digest "):
            return False
        p = dict(re.findall(r'(\w+)="?([^",]*)"?', header[7:]))
        ha1 = _md5(f"{p.get('username')}:{REALM}:{PASSWORD}")
        ha2 = _md5(f"{method}:{p.get('uri')}")
        want = _md5(f"{ha1}:{self.nonce}:{p.get('nc')}:{p.get('cnonce')}:{p.get('qop')}:{ha2}")
        return p.get("username") == USER and p.get("nonce") == self.nonce and p["response"] == want


def handler_for(camera: Camera) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            camera.requests += 1
            if not camera.authorised(self.headers.get("Authorization"), "GET"):
                self.send_response(401)
                challenge = (
                    f'Digest realm="{REALM}", qop="auth", nonce="{camera.nonce}", algorithm=MD5'
                    if camera.auth == "digest"
                    else f'Basic realm="{REALM}"'
                )
                self.send_header("WWW-Authenticate", challenge)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if camera.mode == "slow":
                time.sleep(1.5)
            body = camera.jpeg()
            if camera.mode == "corrupt":
                body = body[: len(body) // 3]  # cut off mid-picture
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(body)

    return Handler


@contextlib.contextmanager
def snapshot_camera(auth: Literal["digest", "basic"] = "digest") -> Iterator[tuple[Camera, str]]:
    camera = Camera(auth)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(camera))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield (
            camera,
            f"http://127.0.0.1:{server.server_address[1]}/ISAPI/Streaming/channels/101/picture",
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def camera_for(url: str, metrics: IoMetrics, **kw: Any) -> SnapshotCamera:
    return SnapshotCamera(
        "g1",
        url,
        username=USER,
        password=str(kw.pop("password", PASSWORD)),
        frames=2,
        frame_interval_s=0.05,
        timeout_s=0.8,
        metrics=metrics,
        **kw,
    )


@pytest.mark.parametrize("auth", ["digest", "basic"])
def test_two_frames_behind_the_cameras_login(auth: Literal["digest", "basic"]) -> None:
    metrics = IoMetrics()
    with snapshot_camera(auth) as (fake, url):
        camera = camera_for(url, metrics, auth=auth)
        try:
            frames, crop = camera.capture()
        finally:
            camera.close()
    assert crop is None and len(frames) == 2 and frames[0] != frames[1]
    assert fake.frame_no == 2  # two pictures
    assert fake.requests >= (3 if auth == "digest" else 2)  # digest: a 401 challenge first
    img = cv2.imdecode(np.frombuffer(frames[0], np.uint8), cv2.IMREAD_COLOR)
    assert img is not None and img.shape == (720, 1280, 3)
    assert metrics.count("edge_camera_frames", lane="g1") == 2


def test_a_wrong_password_is_an_http_error_naming_the_camera_not_the_password() -> None:
    metrics = IoMetrics()
    with snapshot_camera() as (_fake, url):
        camera = camera_for(url, metrics, password="wrong")
        try:
            with pytest.raises(CameraError, match="HTTP 401") as caught:
                camera.capture()
        finally:
            camera.close()
    assert caught.value.reason == "http"
    assert "wrong" not in str(caught.value)
    assert metrics.count("edge_camera_errors", lane="g1", reason="http") == 1


def test_a_corrupt_picture_is_refused_and_the_next_good_one_is_taken() -> None:
    metrics = IoMetrics()
    with snapshot_camera() as (fake, url):
        camera = camera_for(url, metrics)
        try:
            fake.mode = "corrupt"
            with pytest.raises(CameraError) as caught:
                camera.capture()
            assert caught.value.reason == "corrupt"
            fake.mode = "ok"
            frames, _ = camera.capture()
        finally:
            camera.close()
    assert len(frames) == 2
    assert metrics.count("edge_camera_errors", lane="g1", reason="corrupt") == 1


def test_a_camera_too_slow_to_answer_times_out() -> None:
    metrics = IoMetrics()
    with snapshot_camera() as (fake, url):
        fake.mode = "slow"
        camera = camera_for(url, metrics)
        try:
            started = time.monotonic()
            with pytest.raises(CameraError) as caught:
                camera.capture()
            assert time.monotonic() - started < 5
        finally:
            camera.close()
    assert caught.value.reason == "timeout"


def test_a_camera_that_is_off_is_disconnected() -> None:
    metrics = IoMetrics()
    camera = camera_for(f"http://127.0.0.1:{free_port()}/snapshot.jpg", metrics)
    try:
        with pytest.raises(CameraError) as caught:
            camera.capture()
    finally:
        camera.close()
    assert caught.value.reason == "disconnected"
    assert metrics.count("edge_camera_errors", lane="g1", reason="disconnected") == 1
