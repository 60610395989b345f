"""The plate-reader process pool replaces itself when a worker process dies (os.kill, a crash)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest

from lpr.pool import ReaderPool

pytestmark = pytest.mark.integration


class EchoReader:
    """Stands in for the plate models (seconds to load): same process pool, instant reads."""

    def __init__(self, broken_flag: str) -> None:
        if Path(broken_flag).exists():
            raise RuntimeError("model files unreadable")

    def read(self, frames: Sequence[Any], crop: Any = None, *, enough: float | None = None) -> str:
        if crop == "crash":
            os._exit(1)  # what a segfault in native code looks like to the pool
        return f"{len(frames)} frames"


def echo_reader(broken_flag: str) -> EchoReader:
    return EchoReader(broken_flag)


@pytest.fixture()
def flag(tmp_path: Path) -> Path:
    """While this file exists, new worker processes cannot load their reader."""
    return tmp_path / "broken"


@pytest.fixture()
def pool(flag: Path) -> Iterator[tuple[ReaderPool, list[int]]]:
    restarts: list[int] = []
    p = ReaderPool(1, str(flag), make_reader=echo_reader, on_restart=lambda: restarts.append(1))
    try:
        yield p, restarts
    finally:
        p.close()


def worker_pid(pool: ReaderPool) -> int:
    return int(pool._pool.submit(os.getpid).result(timeout=30))


def test_a_killed_worker_is_replaced_and_the_next_read_succeeds(
    pool: tuple[ReaderPool, list[int]],
) -> None:
    readers, restarts = pool
    assert readers.read([b"a"]).result(timeout=30) == "1 frames"
    os.kill(worker_pid(readers), signal.SIGKILL)
    assert readers.read([b"a", b"b"]).result(timeout=60) == "2 frames"
    assert readers.restarts == 1 and restarts == [1] and readers.healthy


def test_a_read_that_kills_its_worker_fails_alone_and_the_pool_goes_on(
    pool: tuple[ReaderPool, list[int]],
) -> None:
    readers, _ = pool
    with pytest.raises(BrokenProcessPool, match="died twice"):
        # "crash" is no valid crop on purpose: it makes EchoReader kill its worker process.
        crashing = readers.read([b"a"], "crash")  # type: ignore[arg-type]
        crashing.result(timeout=60)  # tried once more, then given up
    assert readers.read([b"a"]).result(timeout=60) == "1 frames"
    assert readers.healthy and readers.restarts == 2


def test_a_pool_that_cannot_be_restarted_is_unhealthy_until_it_can(
    pool: tuple[ReaderPool, list[int]], flag: Path
) -> None:
    readers, _ = pool
    flag.touch()
    os.kill(worker_pid(readers), signal.SIGKILL)
    with pytest.raises(BrokenProcessPool):  # the new workers fail to load their reader
        readers.read([b"a"]).result(timeout=60)
    assert not readers.healthy
    flag.unlink()
    assert readers.read([b"a"]).result(timeout=60) == "1 frames"
    assert readers.healthy
