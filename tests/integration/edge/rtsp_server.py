"""A local RTSP camera: Debian's rtsp-server-perl serving a clip that ffmpeg publishes into it.

ffmpeg alone cannot be the camera: its ``-rtsp_flags listen`` mode is a server only for a
stream pushed to it (RECORD), while a camera serves PLAY to its readers. So ffmpeg publishes a
clip generated here (test pattern with a running counter, so frames differ) into
rtsp-server-perl, and the reader under test plays it as it would a camera's stream. Both run
on ports of their own; the publisher can be stopped and started again to play a camera that
goes away and comes back. RTP travels over UDP (the server supports no TCP interleaving).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import free_port


def make_clip(path: Path, seconds: int = 4, size: str = "640x360", fps: int = 10) -> Path:
    subprocess.run(
        [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc=size={size}:rate={fps}",
            "-t", str(seconds), "-c:v", "libx264", "-g", str(fps), "-pix_fmt", "yuv420p",
            str(path),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    return path


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RtspCameraServer:
    directory: Path
    clip: Path
    play_port: int
    publish_port: int
    path: str = "lane"
    publisher: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.play_port}/{self.path}"

    def publish(self) -> None:
        """Start pushing the clip, looped, in real time (the camera is on)."""
        log = self.directory / f"publisher-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            self.publisher = subprocess.Popen(
                [
                    "ffmpeg", "-hide_banner", "-loglevel", "warning",
                    "-re", "-stream_loop", "-1", "-i", str(self.clip), "-c", "copy",
                    "-f", "rtsp", "-rtsp_transport", "udp",
                    f"rtsp://127.0.0.1:{self.publish_port}/{self.path}",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip

    def unpublish(self) -> None:
        """Stop the publisher (the camera went away)."""
        if self.publisher is not None:
            _stop(self.publisher)
            self.publisher = None


@contextlib.contextmanager
def rtsp_camera_server(directory: Path) -> Iterator[RtspCameraServer]:
    binary = shutil.which("rtsp-server-perl")
    if binary is None or shutil.which("ffmpeg") is None:
        raise RuntimeError(
            "ffmpeg and rtsp-server-perl are needed: scripts/bootstrap.sh --system-test-deps"
        )
    directory.mkdir(parents=True, exist_ok=True)
    server = RtspCameraServer(
        directory, make_clip(directory / "clip.mp4"), free_port(), free_port()
    )
    log = (directory / "rtsp-server.log").open("wb")
    proc = subprocess.Popen(
        [
            binary,
            "--clientport", str(server.play_port),
            "--serverport", str(server.publish_port),
            "--client_listen_address", "127.0.0.1",
            "--source_listen_address", "127.0.0.1",
            "--rtp_start_port", str(_free_udp_port()),
            "--loglevel", "2",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", server.publish_port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"rtsp-server-perl did not start; see {log.name}") from None
                time.sleep(0.05)
        server.publish()
        yield server
    finally:
        server.unpublish()
        _stop(proc)
        log.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
