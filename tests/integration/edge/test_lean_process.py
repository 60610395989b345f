"""A gate box's process imports no torch, web stack or database: checked in fresh interpreters
(this one has everything imported by other tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
HEAVY = [
    "torch",
    "torchvision",
    "easyocr",
    "rapidocr_onnxruntime",
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "lxml",
]

EDGE_PROCESS = """
import json, sys
import cv2, numpy as np
import edge.lane  # the lanes' buffer and MQTT link
from edge.cli import app
from edge.config import ReaderConfig
from edge.io.build import build_io
from edge.reader import plate_reader

reader = plate_reader(ReaderConfig())
img = np.full((200, 520, 3), 255, np.uint8)
cv2.putText(img, "30A-123.45", (20, 130), cv2.FONT_HERSHEY_SIMPLEX, 2.4, (0, 0, 0), 6)
read = reader.read([cv2.imencode(".jpg", img)[1].tobytes()], "frame")
print(json.dumps({"loaded": sorted(m for m in sys.argv[1].split(",") if m in sys.modules),
                  "recognizer": reader.recognizer.name, "text": read.text}))
"""


def run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_the_edge_with_its_reader_loaded_imports_nothing_heavy() -> None:
    done = run(EDGE_PROCESS, ",".join(HEAVY))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["loaded"] == []
    assert result["recognizer"] == "plate"  # the project's ONNX model, RapidOCR's beside it
    assert result["text"] is not None  # it really read something


def test_lprs_default_reader_asks_for_craft_only_when_easyocr_is_installed() -> None:
    code = (
        "import importlib.util, sys\n"
        "_find = importlib.util.find_spec\n"
        "importlib.util.find_spec = "
        "lambda name, *a: None if name.split('.')[0] == 'easyocr' else _find(name, *a)\n"
        "from lpr.reader import PlateReader\n"
        "r = PlateReader(); r.warm_up()\n"
        "print(r.craft_fallback, 'torch' in sys.modules)\n"
    )
    done = run(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]  # a gate box: no CRAFT, no torch
    full = run("from lpr.reader import PlateReader; print(PlateReader().craft_fallback)")
    assert full.stdout.split() == ["True"]  # the central system keeps its last resort
