"""The RTSP camera against a real RTSP server and stream: frames, a camera that goes away, and
its return."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.io.camera import CameraError
from edge.io.metrics import IoMetrics
from edge.io.rtsp import RtspCamera
from tests.edge_helpers import wait_for
from tests.integration.edge.rtsp_server import rtsp_camera_server

pytestmark = pytest.mark.integration


def decode(jpeg: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img


def capture_or_none(camera: RtspCamera) -> list[bytes] | None:
    try:
        return camera.capture()[0]
    except CameraError:
        return None


def test_the_stream_gives_fresh_frames_and_survives_the_camera_going_away(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="edge.io")
    metrics = IoMetrics()
    with rtsp_camera_server(tmp_path / "rtsp") as server:
        camera = RtspCamera(
            "g1",
            server.url.replace("rtsp://", "rtsp://viewer:s3cret@"),  # the server asks for none
            frames=2,
            frame_interval_s=0.3,
            transport="udp",
            open_timeout_s=5,
            read_timeout_s=1.5,
            max_frame_age_s=1.0,
            reconnect_min_s=0.2,
            reconnect_max_s=1.0,
            metrics=metrics,
        ).start()
        try:
            assert wait_for(lambda: camera.latest_image() is not None, 30), "no frame from RTSP"
            frames, crop = camera.capture()
            assert crop is None and len(frames) == 2
            first, second = decode(frames[0]), decode(frames[1])
            assert first.shape == (360, 640, 3)
            assert float(np.abs(first.astype(int) - second.astype(int)).mean()) > 0.5  # moved on

            server.unpublish()  # the camera reboots
            assert wait_for(lambda: capture_or_none(camera) is None, 15)
            with pytest.raises(CameraError) as caught:
                camera.capture()
            assert caught.value.reason in ("stale", "disconnected")
            assert wait_for(
                lambda: metrics.count("edge_camera_errors", lane="g1", reason="disconnected") >= 1,
                15,
            )

            server.publish()  # and comes back
            assert wait_for(lambda: capture_or_none(camera) is not None, 40), "no reconnect"
        finally:
            camera.close()
    assert metrics.count("edge_camera_reconnects", lane="g1") >= 2
    messages = [r.getMessage() for r in caplog.records]
    assert any("lost (or unreachable); reconnecting" in m for m in messages)
    assert any(" back after " in m for m in messages)
    assert not any("s3cret" in m for m in messages)  # the password stays out of the log
