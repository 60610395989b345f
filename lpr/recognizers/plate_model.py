"""The project's own plate recognizer: a small CRNN trained on synthetic plates, run with ONNX.

The issue allowed EasyOCR's custom recognition-model support or an ONNX export; ONNX was chosen
because onnxruntime runs the small network in a few milliseconds on one core with no torch
import on the hot path. The weights (``lpr/models/plate_rec.onnx``) and their description
(``plate_rec.json``: charset, input size, MD5) are committed; ``training/`` reproduces them.

``prepare_lines`` is shared with the training script so the crops the model sees at run time
are normalized exactly as during training.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

MODEL_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_MODEL = MODEL_DIR / "plate_rec.onnx"
INPUT_H = 32
INPUT_W = 192
BLANK = "\x00"
CHARSET = BLANK + "0123456789ABCDEFGHKLMNPRSTUVXYZ-."


class PlateModelError(RuntimeError):
    """The plate model's files are missing, corrupt or do not match their description."""


def prepare_line(img: np.ndarray, height: int = INPUT_H, width: int = INPUT_W) -> np.ndarray:
    """One line crop (BGR or grey uint8) -> (height, width) float32, zero mean, unit variance.

    The aspect ratio is kept (a line wider than ``width`` at ``height`` is squeezed) and the
    right side is padded with the crop's median grey so padding looks like plate background.
    """
    if img is None or img.size == 0 or img.ndim not in (2, 3):
        raise ValueError("empty or malformed line crop")
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    h, w = grey.shape
    new_w = int(min(width, max(1, round(w * height / max(h, 1)))))
    interp = cv2.INTER_AREA if h > height else cv2.INTER_LINEAR
    resized = cv2.resize(grey, (new_w, height), interpolation=interp).astype(np.float32)
    out = np.full((height, width), float(np.median(resized)), np.float32)
    out[:, :new_w] = resized
    return (out - out.mean()) / max(float(out.std()), 8.0)


def prepare_lines(lines: Sequence[np.ndarray]) -> np.ndarray:
    """A batch (N, 1, INPUT_H, INPUT_W) float32."""
    return np.stack([prepare_line(x) for x in lines])[:, None, :, :]


def file_md5(path: Path) -> str:
    h = hashlib.md5()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class ModelInfo:
    charset: str
    input_h: int
    input_w: int
    md5: str
    #: Softmax temperature: a network trained to low CTC loss on clean synthetic lines is
    #: over-confident on real ones, and its confident misreads then outvote RapidOCR when the
    #: two are fused. Chosen on the dev set (bench/lpr.py); 1.0 = the logits as they are.
    temperature: float = 1.0

    @classmethod
    def load(cls, path: Path) -> ModelInfo:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(
                str(data["charset"]),
                int(data["input_h"]),
                int(data["input_w"]),
                str(data["md5"]),
                float(data.get("temperature", 1.0)),
            )
        except FileNotFoundError as e:
            raise PlateModelError(f"plate model description missing: {path}") from e
        except (ValueError, KeyError, TypeError) as e:
            raise PlateModelError(f"plate model description unreadable: {path}: {e}") from e


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class PlateModelRecognizer:
    """``lpr.recognize.Recognizer`` backed by the plate-trained ONNX model.

    The model is loaded and its MD5 checked once, in the constructor (one instance per worker
    process); ``step_probs`` runs one batched inference for all lines of a plate.
    """

    name = "plate"

    def __init__(self, model_path: Path | str | None = None, threads: int = 1) -> None:
        path = Path(model_path) if model_path is not None else DEFAULT_MODEL
        info = ModelInfo.load(path.with_suffix(".json"))
        if not path.is_file():
            raise PlateModelError(f"plate model missing: {path} (see training/README.md)")
        actual = file_md5(path)
        if actual != info.md5:
            log.error("plate model %s: md5 %s, expected %s", path, actual, info.md5)
            raise PlateModelError(
                f"plate model {path} is corrupt or not the described one: md5 {actual}, "
                f"expected {info.md5}"
            )
        import onnxruntime as ort  # deferred: only a process that reads plates pays for it

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                str(path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as e:  # onnxruntime raises its own exception types
            raise PlateModelError(f"plate model {path} cannot be loaded: {e}") from e
        self._input = self._session.get_inputs()[0].name
        self.charset = info.charset
        self.input_h, self.input_w = info.input_h, info.input_w
        if info.temperature <= 0:
            raise PlateModelError(f"plate model {path}: temperature must be > 0")
        self.temperature = info.temperature
        self.path = path

    def step_probs(self, lines: Sequence[np.ndarray]) -> list[np.ndarray]:
        if not lines:
            return []
        batch = np.stack([prepare_line(x, self.input_h, self.input_w) for x in lines])[:, None]
        (logits,) = self._session.run(None, {self._input: batch})
        probs = softmax(logits.astype(np.float32) / self.temperature)  # (N, T, C)
        return [probs[i] for i in range(probs.shape[0])]

    def read_greedy(self, lines: Sequence[np.ndarray]) -> list[str]:
        """Best-path CTC decoding (for evaluation; the pipeline decodes under the grammar)."""
        return [greedy_decode(p, self.charset) for p in self.step_probs(lines)]


def greedy_decode(probs: np.ndarray, charset: str) -> str:
    best = probs.argmax(axis=-1)
    out = []
    prev = 0
    for k in best:
        if k not in (prev, 0):
            out.append(charset[k])
        prev = int(k)
    return "".join(out)
