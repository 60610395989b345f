"""Cameras without a network: a folder of files, JPEG checks, and the RTSP reader's logic on a
scripted capture (the real stream is in tests/integration/edge/test_rtsp_camera.py)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.io.camera import CameraError, checked_jpeg, encode_jpeg
from edge.io.folder import FolderCamera
from edge.io.metrics import IoMetrics
from edge.io.rtsp import RtspCamera, redact
from gateway.protocol import MAX_FRAME_BYTES
from lpr.errors import BadImage
from tests.edge_helpers import wait_for


def jpeg(value: int, size: tuple[int, int] = (64, 48)) -> bytes:
    img = np.full((size[1], size[0], 3), value, np.uint8)
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return buf.tobytes()


def grey_of(data: bytes) -> int:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert img is not None
    return round(float(img.mean()))


def test_a_corrupt_or_foreign_file_is_refused() -> None:
    whole = jpeg(100)
    with pytest.raises(BadImage):
        checked_jpeg(whole[: len(whole) // 2])
    with pytest.raises(BadImage, match="not a JPEG"):
        checked_jpeg(b"\x89PNG\r\n\x1a\n" + whole)
    data, image = checked_jpeg(whole)
    assert data == whole and image.shape == (48, 64, 3)


def test_a_frame_larger_than_the_wire_allows_is_re_encoded_to_fit() -> None:
    noise = np.random.default_rng(0).integers(0, 256, (2160, 3840, 3), dtype=np.uint8)
    big = encode_jpeg(noise, quality=100)
    assert len(big) <= MAX_FRAME_BYTES
    assert cv2.imdecode(np.frombuffer(big, np.uint8), cv2.IMREAD_COLOR) is not None


def test_the_folder_in_cycle_order_skips_corrupt_files(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(jpeg(50))
    (tmp_path / "b.jpg").write_bytes(jpeg(100)[:200])  # truncated upload
    (tmp_path / "c.jpeg").write_bytes(jpeg(150))
    (tmp_path / "notes.txt").write_text("not a frame")
    metrics = IoMetrics()
    camera = FolderCamera("g1", tmp_path, order="cycle", frames=1, metrics=metrics)
    seen = [grey_of(camera.capture()[0][0]) for _ in range(4)]
    assert seen == [50, 150, 50, 150]
    assert metrics.count("edge_camera_errors", lane="g1", reason="corrupt") == 2
    assert metrics.count("edge_camera_frames", lane="g1") == 4


def test_the_folder_in_newest_order_takes_the_latest_uploads(tmp_path: Path) -> None:
    now = time.time()
    for i, value in enumerate((10, 20, 30)):
        path = tmp_path / f"snap{i}.jpg"
        path.write_bytes(jpeg(value))
        os.utime(path, (now - 3 + i, now - 3 + i))
    frames, crop = FolderCamera("g1", tmp_path, order="newest", frames=2).capture()
    assert [grey_of(f) for f in frames] == [20, 30]  # oldest first, newest last
    assert crop is None


def test_a_folder_the_camera_stopped_uploading_to_is_stale(tmp_path: Path) -> None:
    path = tmp_path / "old.jpg"
    path.write_bytes(jpeg(10))
    os.utime(path, (time.time() - 60, time.time() - 60))
    metrics = IoMetrics()
    with pytest.raises(CameraError, match="60 s old") as caught:
        FolderCamera("g1", tmp_path, max_age_s=10, metrics=metrics).capture()
    assert caught.value.reason == "stale"
    assert metrics.count("edge_camera_errors", lane="g1", reason="stale") == 1


def test_an_empty_or_missing_folder_is_a_camera_error(tmp_path: Path) -> None:
    with pytest.raises(CameraError) as caught:
        FolderCamera("g1", tmp_path).capture()
    assert caught.value.reason == "empty"
    with pytest.raises(CameraError) as caught:
        FolderCamera("g1", tmp_path / "gone").capture()
    assert caught.value.reason == "disconnected"


def test_passwords_stay_out_of_the_logs() -> None:
    assert redact("rtsp://admin:s3cr3t@10.0.0.64:554/s1") == "rtsp://admin:***@10.0.0.64:554/s1"
    assert redact("rtsp://10.0.0.64/s1") == "rtsp://10.0.0.64/s1"


class ScriptedCapture:
    """A cv2.VideoCapture stand-in: frames at 50 fps, then the stream ends (a camera reboot)."""

    def __init__(self, frames: int, start: int, opened: bool = True) -> None:
        self.left = frames
        self.value = start
        self.opened = opened

    def isOpened(self) -> bool:  # OpenCV's name
        return self.opened

    def read(self) -> tuple[bool, np.ndarray | None]:
        time.sleep(0.02)
        if self.left <= 0:
            return False, None
        self.left -= 1
        self.value = (self.value + 1) % 250
        return True, np.full((48, 64, 3), self.value, np.uint8)

    def release(self) -> None:
        pass


class Opener:
    """Hands out the scripted captures in turn; None = the camera refuses the connection."""

    def __init__(self, script: list[ScriptedCapture | None]) -> None:
        self.script = script
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, url: str, transport: str, open_s: float, read_s: float) -> ScriptedCapture:
        with self.lock:
            step = self.script[min(self.calls, len(self.script) - 1)]
            self.calls += 1
        return step if step is not None else ScriptedCapture(0, 0, opened=False)


def test_the_reader_keeps_the_newest_frame_and_a_capture_spaces_its_frames() -> None:
    opener = Opener([ScriptedCapture(10_000, 0)])
    camera = RtspCamera("g1", "rtsp://cam/s1", frames=3, frame_interval_s=0.1, opener=opener)
    camera.start()
    try:
        assert wait_for(lambda: camera.latest_image() is not None)
        frames, crop = camera.capture()
    finally:
        camera.close()
    values = [grey_of(f) for f in frames]
    assert len(values) == 3 and crop is None
    assert values[0] < values[1] < values[2]  # newer and newer frames
    assert values[2] - values[1] >= 3  # about 0.1 s apart at 50 fps, not consecutive frames


def latest_value(camera: RtspCamera) -> int:
    latest = camera.latest_image()
    return -1 if latest is None else int(latest[0][0, 0, 0])


def test_a_lost_stream_is_reconnected_with_backoff_and_counted() -> None:
    metrics = IoMetrics()
    opener = Opener([ScriptedCapture(5, 0), None, None, ScriptedCapture(10_000, 100)])
    camera = RtspCamera(
        "g1",
        "rtsp://admin:pw@cam/s1",
        frames=1,
        reconnect_min_s=0.05,
        reconnect_max_s=0.2,
        metrics=metrics,
        opener=opener,
    )
    camera.start()
    try:
        assert wait_for(lambda: opener.calls >= 4)
        assert wait_for(lambda: latest_value(camera) > 100)  # the new connection's frames
        frames, _ = camera.capture()
    finally:
        camera.close()
    assert grey_of(frames[0]) > 100  # from the new connection
    assert metrics.count("edge_camera_reconnects", lane="g1") >= 4
    assert metrics.count("edge_camera_errors", lane="g1", reason="disconnected") == 1


def test_no_recent_frame_is_a_stale_or_disconnected_camera() -> None:
    metrics = IoMetrics()
    camera = RtspCamera(
        "g1",
        "rtsp://cam/s1",
        max_frame_age_s=0.3,
        reconnect_min_s=0.05,
        metrics=metrics,
        opener=Opener([None]),
    )
    try:
        with pytest.raises(CameraError, match=r"no frame in the last 0.3 s") as caught:
            camera.capture()
    finally:
        camera.close()
    assert caught.value.reason == "disconnected"
    assert metrics.count("edge_camera_errors", lane="g1", reason="disconnected") >= 1
