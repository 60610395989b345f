"""Exact-line accuracy of the plate model on the REAL dev crops (evaluation only, never training).

    .venv/bin/python -m training.eval_lines [--model lpr/models/plate_rec.onnx] [--split simple|lpr]

Exact = the whole line string; key = the same without `-`/`.` (what the grammar decoder
needs, since it inserts the separators itself). ``simple``: two-line plates are cut into top
and bottom halves, one-line plates are read whole (no localization, so it measures the
recognizer, not the line finder). ``lpr``: lines
from ``lpr.lines.split_lines``, the reading pipeline's own cutter. Greedy CTC decoding, no
grammar: the pipeline's grammar decoder can only do better. Reads ../shared/data/vn-plates/dev.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from lpr.recognizers.plate_model import DEFAULT_MODEL, PlateModelRecognizer

DEV = Path(__file__).resolve().parents[2] / "shared" / "data" / "vn-plates" / "dev"


def truth_lines(plate: str, lines: int) -> list[str]:
    if lines == 1:
        return [plate]
    return plate.split(" ")


def key(text: str) -> str:
    """Plate key: separators dropped (the grammar decoder places them itself)."""
    return text.replace("-", "").replace(".", "").replace(" ", "")


def simple_split(img: np.ndarray, lines: int) -> list[np.ndarray]:
    if lines == 1:
        return [img]
    h = img.shape[0]
    return [img[: h // 2], img[h // 2 :]]


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--dev", type=Path, default=DEV)
    ap.add_argument("--split", choices=("simple", "lpr"), default="simple")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--errors", type=int, default=15, help="print this many wrong lines (by key)")
    ap.add_argument("--json", type=Path, default=None)
    return ap.parse_args()


def line_crops(img: np.ndarray, lines: int, split: str) -> list[np.ndarray]:
    """The plate's line images, cut by lpr's splitter or in half."""
    if split == "lpr":
        from lpr.lines import split_lines

        return list(split_lines(img, lines).lines)
    return simple_split(img, lines)


def score_plate(
    got: list[str], want: list[str], c: Counter[str]
) -> tuple[bool, bool, list[tuple[str, str]]]:
    """Count each line in ``c``: (all lines exact, all lines right by key, (want, got) by key)."""
    n = len(want)
    all_ok = key_ok = True
    wrong: list[tuple[str, str]] = []
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        part = "top" if n == 2 and i == 0 else ("bottom" if n == 2 else "line")
        c[f"{part}_n"] += 1
        if g == w:
            c[f"{part}_ok"] += 1
        else:
            all_ok = False
        if key(g) == key(w):
            c[f"{part}_key_ok"] += 1
        else:
            key_ok = False
            wrong.append((w, g))
    c["plates"] += 1
    c["plates_ok"] += all_ok
    c["plates_key_ok"] += key_ok
    return all_ok, key_ok, wrong


def kind_report(c: Counter[str]) -> dict[str, object]:
    """Per plate kind: plates exact and by key, and per line position."""
    parts = {
        p: round(c[f"{p}_ok"] / c[f"{p}_n"], 4) for p in ("line", "top", "bottom") if c[f"{p}_n"]
    }
    parts.update(
        {
            f"{p}_key": round(c[f"{p}_key_ok"] / c[f"{p}_n"], 4)
            for p in ("line", "top", "bottom")
            if c[f"{p}_n"]
        }
    )
    return {
        "plates": c["plates"],
        "plate_exact": round(c["plates_ok"] / c["plates"], 4),
        "plate_key": round(c["plates_key_ok"] / c["plates"], 4),
        **parts,
    }


def main() -> None:
    args = parse_args()
    rec = PlateModelRecognizer(args.model)
    rows = list(csv.DictReader((args.dev / "labels.csv").open()))
    if args.limit:
        rows = rows[: args.limit]
    per_kind: dict[str, Counter[str]] = {}
    wrong: list[tuple[str, str, str]] = []
    plates_ok = plates_key_ok = 0
    ms: list[float] = []
    for r in rows:
        img = cv2.imread(str(args.dev / "images" / r["file"]))
        if img is None:
            raise SystemExit(f"cannot read {r['file']}")
        n = int(r["lines"])
        crops = line_crops(img, n, args.split)
        t = time.perf_counter()
        got = rec.read_greedy(crops) if len(crops) == n else ["?"] * n
        ms.append((time.perf_counter() - t) * 1000)
        c = per_kind.setdefault(f"{r['kind']}/{n}", Counter())
        all_ok, key_ok, bad = score_plate(got, truth_lines(r["plate"], n), c)
        wrong += [(r["file"], w, g) for w, g in bad]
        plates_ok += all_ok
        plates_key_ok += key_ok
    report: dict[str, object] = {"model": str(args.model), "split": args.split, "images": len(rows)}
    for k, c in sorted(per_kind.items()):
        report[k] = kind_report(c)
    report["plate_exact_all"] = round(plates_ok / max(1, len(rows)), 4)
    report["plate_key_all"] = round(plates_key_ok / max(1, len(rows)), 4)
    report["ms_per_plate_p50"] = round(float(np.percentile(ms, 50)), 2)
    report["ms_per_plate_p95"] = round(float(np.percentile(ms, 95)), 2)
    print(json.dumps(report, indent=2))
    for f, w, g in wrong[: args.errors]:
        print(f"  {f}: want {w!r} got {g!r}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
