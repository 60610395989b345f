"""A process pool of plate readers for the gateway: models loaded once per worker, warmed up.

Reading is CPU-bound (OpenCV + ONNX/torch), so threads would fight over the GIL; each worker
process holds its own reader and the gateway gets concurrent.futures Futures back.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor

import numpy as np

from lpr.reader import Crop, Frame, PlateReader
from lpr.types import PlateRead

log = logging.getLogger(__name__)

_READER: PlateReader | None = None


def _init_worker(recognizer: str, threads: int) -> None:
    global _READER
    # One inference thread per worker: the workers themselves use the cores.
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover - torch is only needed for the EasyOCR path
        pass
    import cv2

    cv2.setNumThreads(threads)
    _READER = PlateReader(recognizer)
    _READER.warm_up()
    log.info("lpr worker %d ready (%s)", os.getpid(), _READER.recognizer.name)


def _read(frames: Sequence[Frame], crop: Crop, enough: float | None) -> PlateRead:
    if _READER is None:  # pragma: no cover - the initializer always ran
        raise RuntimeError("lpr worker not initialized")
    return _READER.read(frames, crop, enough=enough)


def _ready() -> str:
    return _READER.recognizer.name if _READER is not None else ""


class ReaderPool:
    """`ReaderPool(workers).read(frames, crop, enough) -> Future[PlateRead]`; a context manager."""

    def __init__(self, workers: int = 1, recognizer: str = "auto", threads: int = 1) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.workers = workers
        ctx = mp.get_context("spawn")  # no fork of a process holding ONNX/torch threads
        self._pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=_init_worker,
            initargs=(recognizer, threads),
        )  # fmt: skip
        # Start every worker now (loading models takes seconds), not on the first car.
        names = [f.result() for f in [self._pool.submit(_ready) for _ in range(workers * 2)]]
        self.recognizer = names[0] if names else ""

    def read(
        self, frames: Sequence[Frame] | Frame, crop: Crop = None, enough: float | None = None
    ) -> Future[PlateRead]:
        """``PlateReader.read`` in a worker process (see there for ``enough``)."""
        batch: list[Frame] = (
            [bytes(frames) if isinstance(frames, bytearray | memoryview) else frames]
            if isinstance(frames, bytes | bytearray | memoryview | np.ndarray)
            else [bytes(f) if isinstance(f, bytearray | memoryview) else f for f in frames]
        )
        return self._pool.submit(_read, batch, crop, enough)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ReaderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
