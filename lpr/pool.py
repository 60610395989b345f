"""A process pool of plate readers for the gateway: models loaded once per worker, warmed up.

Reading is CPU-bound (OpenCV + ONNX/torch), so threads would fight over the GIL; each worker
process holds its own reader and the gateway gets concurrent.futures Futures back.

A worker process that dies (killed, out of memory, a crash in native code) breaks a
``ProcessPoolExecutor`` for good: every later submit raises ``BrokenProcessPool``, which would
send every later car to review. So the pool replaces itself: the read that met the broken pool
is logged, a new executor is started in a background thread (never on the caller's thread: the
gateway calls ``read`` from its event loop, and loading models takes seconds) and the read is
tried once more there; a frame that kills its worker twice fails that one read, not the pool.
``healthy`` is False while a replacement cannot be started (readiness reports it); every later
read tries again.

Workers end with their parent, however it ends: each watches its parent process and exits once
it is gone (a SIGKILLed gateway used to leave a worker of 1.2 GB behind, adopted by init). They
ignore Ctrl-C: the terminal sends SIGINT to the whole process group, and a worker that died of it
mid-read would break the pool; the parent stops its workers itself, in order.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, InvalidStateError, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

import numpy as np

from lpr.reader import Crop, Frame, PlateReader
from lpr.types import PlateRead

log = logging.getLogger(__name__)


class Reader(Protocol):
    def read(
        self, frames: Sequence[Frame], crop: Crop = None, *, enough: float | None = None
    ) -> Any: ...


# Builds a worker's reader from the recognizer name; must be picklable (a module-level function).
ReaderFactory = Callable[[str], Reader]

_READER: Reader | None = None


def warmed_up_reader(recognizer: str) -> PlateReader:
    reader = PlateReader(recognizer)
    reader.warm_up()
    return reader


PARENT_CHECK_S = 0.5


def _exit_with_parent(parent: int) -> None:
    """In a worker: end this process as soon as ``parent`` is no longer its parent."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(0)  # nothing to flush: the worker's only output went to the dead parent

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


@contextlib.contextmanager
def _children_ignore_sigint() -> Iterator[None]:
    """Processes started inside ignore SIGINT for life (an ignored signal stays ignored across
    exec, and Python then installs no KeyboardInterrupt handler). Only around the spawning
    itself, and only in the main thread (the one place handlers can be set): a Ctrl-C meant for
    the parent must not be ignored while models load for seconds."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _init_worker(make_reader: ReaderFactory, recognizer: str, threads: int, parent: int) -> None:
    global _READER
    _exit_with_parent(parent)
    # Started by another thread than the main one (a replacement pool), a worker got the
    # default SIGINT handling: from here on it ignores Ctrl-C like its siblings.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # One inference thread per worker: the workers themselves use the cores.
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    import cv2

    cv2.setNumThreads(threads)
    _READER = make_reader(recognizer)
    # torch is there only when the reader asked for EasyOCR or CRAFT: never import it here.
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
    log.info("lpr worker %d ready (%s)", os.getpid(), _ready())


def _read(frames: Sequence[Frame], crop: Crop, enough: float | None) -> PlateRead:
    if _READER is None:  # pragma: no cover - the initializer always ran
        raise RuntimeError("lpr worker not initialized")
    result: PlateRead = _READER.read(frames, crop, enough=enough)
    return result


def _ready() -> str:
    recognizer = getattr(_READER, "recognizer", None)
    return str(getattr(recognizer, "name", "")) if recognizer is not None else ""


def _resolve(
    outer: Future[PlateRead], inner: Future[PlateRead] | None, exc: BaseException | None
) -> None:
    """Hand a result on, unless the caller cancelled meanwhile."""
    try:
        if exc is not None:
            outer.set_exception(exc)
        elif inner is not None:
            outer.set_result(inner.result())
    except InvalidStateError:
        pass


class ReaderPool:
    """`ReaderPool(workers).read(frames, crop, enough) -> Future[PlateRead]`; a context manager.

    ``on_restart`` is called after each replacement of a broken pool (the gateway counts them).
    """

    def __init__(
        self,
        workers: int = 1,
        recognizer: str = "auto",
        threads: int = 1,
        *,
        make_reader: ReaderFactory = warmed_up_reader,
        on_restart: Callable[[], None] | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.workers = workers
        self._recognizer = recognizer
        self._threads = threads
        self._make_reader = make_reader
        self._on_restart = on_restart
        self._lock = threading.Lock()
        self._closed = False
        self.restarts = 0
        self.healthy = True
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        ctx = mp.get_context("spawn")  # no fork of a process holding ONNX/torch threads
        with _children_ignore_sigint():
            pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=ctx, initializer=_init_worker,
                initargs=(self._make_reader, self._recognizer, self._threads, os.getpid()),
            )  # fmt: skip
        try:
            # Start every worker now (loading models takes seconds), not on the first car.
            with _children_ignore_sigint():  # submit() spawns the processes
                futures = [pool.submit(_ready) for _ in range(self.workers * 2)]
            names = [f.result() for f in futures]
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        self.recognizer = names[0] if names else ""
        return pool

    def read(
        self, frames: Sequence[Frame] | Frame, crop: Crop = None, enough: float | None = None
    ) -> Future[PlateRead]:
        """``PlateReader.read`` in a worker process (see there for ``enough``)."""
        batch: list[Frame] = (
            [bytes(frames) if isinstance(frames, bytearray | memoryview) else frames]
            if isinstance(frames, bytes | bytearray | memoryview | np.ndarray)
            else [bytes(f) if isinstance(f, bytearray | memoryview) else f for f in frames]
        )
        outer: Future[PlateRead] = Future()
        self._submit(outer, (batch, crop, enough), retry=True)
        return outer

    def _submit(self, outer: Future[PlateRead], args: tuple[Any, ...], retry: bool) -> None:
        pool = self._pool
        try:
            inner = pool.submit(_read, *args)
        except BrokenProcessPool:
            self._recover_in_background(pool, outer, args, retry)
            return
        except RuntimeError as exc:  # shut down: closed, or replaced under our feet
            if self._closed or self._pool is pool:
                _resolve(outer, None, exc)
            else:
                self._submit(outer, args, retry)
            return

        def finished(done: Future[PlateRead]) -> None:
            if done.cancelled():
                outer.cancel()
                return
            exc = done.exception()
            if isinstance(exc, BrokenProcessPool):
                self._recover_in_background(pool, outer, args, retry)
            else:
                _resolve(outer, done, exc)

        inner.add_done_callback(finished)

    def _recover_in_background(
        self,
        broken: ProcessPoolExecutor,
        outer: Future[PlateRead],
        args: tuple[Any, ...],
        retry: bool,
    ) -> None:
        """Replace the broken pool, then try the read once more; a read already retried fails."""

        def recover_then_retry() -> None:
            try:
                self._replace(broken)
            except Exception as exc:
                _resolve(outer, None, exc)
                return
            if retry:
                self._submit(outer, args, retry=False)
            else:
                _resolve(outer, None, BrokenProcessPool("a reader worker died twice on this read"))

        # Not here: this may be the executor's own management thread, which shutdown() joins.
        threading.Thread(target=recover_then_retry, name="lpr-pool-recovery", daemon=True).start()

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("reader pool is closed")
            if self._pool is not broken:
                return  # another read replaced it already
            log.error("plate reader pool is broken (a worker process died); starting a new one")
            broken.shutdown(wait=False, cancel_futures=True)
            try:
                self._pool = self._start()
            except Exception:
                self.healthy = False
                log.exception("plate reader pool could not be restarted; reads fail meanwhile")
                raise
            self.healthy = True
            self.restarts += 1
            log.warning("plate reader pool restarted (%d restarts so far)", self.restarts)
        if self._on_restart is not None:
            self._on_restart()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ReaderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
