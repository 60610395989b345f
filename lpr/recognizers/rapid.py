"""PaddleOCR's PP-OCRv4 line recognizer (ONNX) as a second opinion beside the plate model.

The model file is committed in ``lpr/models/ppocr_v4_rec.onnx`` (taken from the
rapidocr-onnxruntime wheel, its hard-swish activations rewritten by ``training/fuse_hardswish.py``
for speed, same outputs; ``ppocr_v4_rec.json`` says where from and its MD5): that package
pulls in opencv-python with Qt beside our headless OpenCV, 200 MB a gate box cannot carry,
for one 11 MB file. Only ONNX Runtime runs it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from lpr.errors import ModelMissing

IMG_H = 48
#: Lines are padded to at least this width. PaddleOCR pads to 320; the network's cost grows
#: with the padded width, and plate lines (about 3:1) need far less. On the dev set with the
#: plate model beside it, 224 read as many plates as 320 (97.7 % vs 97.4 %, same 0.18 % wrong
#: at the threshold) for about 20 % less time per plate (tried 320, 256, 224, 192).
MIN_WIDTH = 224
MODEL = Path(__file__).resolve().parent.parent / "models" / "ppocr_v4_rec.onnx"


def model_path(path: Path = MODEL) -> str:
    """The model file, checked against the MD5 in its description (never downloaded)."""
    from lpr.recognizers.plate_model import file_md5

    described = path.with_suffix(".json")
    try:
        expected = str(json.loads(described.read_text(encoding="utf-8"))["md5"])
    except (OSError, ValueError, KeyError) as exc:
        raise ModelMissing(f"PP-OCR model description missing or unreadable: {described}") from exc
    if not path.is_file():
        raise ModelMissing(f"PP-OCR recognition model missing: {path}")
    actual = file_md5(path)
    if actual != expected:
        raise ModelMissing(f"PP-OCR model {path} is altered: md5 {actual}, expected {expected}")
    return str(path)


class RapidOcrRecognizer:
    """PP-OCR's CTC recognizer; its 6,600-character dictionary is passed through unchanged."""

    name = "rapidocr"

    def __init__(self, threads: int = 1) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(
            model_path(), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        chars = self._session.get_modelmeta().custom_metadata_map["character"].splitlines()
        self.charset = "\x00" + "".join(chars) + " "  # PaddleOCR: blank first, space last
        self._input = self._session.get_inputs()[0].name

    @staticmethod
    def _prepare(line: np.ndarray, width: int) -> np.ndarray:
        img = cv2.cvtColor(line, cv2.COLOR_GRAY2BGR) if line.ndim == 2 else line
        h, w = img.shape[:2]
        new_w = max(8, min(width, int(np.ceil(IMG_H * w / max(h, 1)))))
        img = cv2.resize(img, (new_w, IMG_H)).astype(np.float32)
        out = np.zeros((3, IMG_H, width), dtype=np.float32)
        out[:, :, :new_w] = (img.transpose(2, 0, 1) / 255.0 - 0.5) / 0.5
        return out

    def step_probs(self, lines: Sequence[np.ndarray]) -> list[np.ndarray]:
        if not lines:
            return []
        widths = [max(8, int(np.ceil(IMG_H * ln.shape[1] / max(ln.shape[0], 1)))) for ln in lines]
        width = max(MIN_WIDTH, *widths)
        # One line per run: ONNX Runtime takes longer for a batch of two lines than for the
        # two lines one after the other (34 vs 27 ms here), with the same outputs.
        probs = [
            self._session.run(None, {self._input: self._prepare(ln, width)[None]})[0][0]
            for ln in lines
        ]
        out = []
        for p, w in zip(probs, widths, strict=True):
            steps = max(1, int(np.ceil(p.shape[0] * min(w + 8, width) / width)))
            out.append(p[:steps])
        return out
