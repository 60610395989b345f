"""Plate-reading benchmark on the real dev set and on synthetic full frames.

    .venv/bin/python bench/lpr.py                    # everything, full dev set
    .venv/bin/python bench/lpr.py --limit 200 --frames 30 --baseline 20 --json

Reports, per recognizer on the same crops: exact plates (by key), character accuracy, the
wrong-plate and review rates at the operating threshold, p50/p95/p99 ms per crop, per kind;
full synthetic 1280x720 frames; 1 and 2 worker processes; plain EasyOCR readtext as the
baseline. The dev images are read from ../shared and never copied.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import sys
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lpr.grammar import PlateSyntaxError, parse, plate_key  # noqa: E402

DEV = ROOT.parent / "shared" / "data" / "vn-plates" / "dev"
RESULTS = ROOT / "bench" / "results" / "lpr.json"


@dataclass
class Sample:
    file: str
    plate: str
    kind: str
    data: bytes


def load_dev(limit: int | None, seed: int) -> list[Sample]:
    with (DEV / "labels.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    random.Random(seed).shuffle(rows)
    if limit:
        rows = rows[:limit]
    return [
        Sample(r["file"], r["plate"], r["kind"], (DEV / "images" / r["file"]).read_bytes())
        for r in rows
    ]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def char_acc(pred: str | None, truth: str) -> float:
    a, b = pred or "", truth
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return max(0.0, 1.0 - prev[-1] / max(1, len(b)))


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(records)
    if not n:
        return {"n": 0}
    exact = sum(r["ok"] for r in records)
    auto = [r for r in records if r["auto_ok"]]
    wrong_auto = sum(1 for r in auto if not r["ok"])
    ms = [r["ms"] for r in records]
    return {
        "n": n,
        "exact": exact / n,
        "char_acc": statistics.fmean(r["char_acc"] for r in records),
        "auto_rate": len(auto) / n,
        "review_rate": 1 - len(auto) / n,
        "wrong_auto_of_all": wrong_auto / n,
        "wrong_auto_of_auto": wrong_auto / len(auto) if auto else 0.0,
        "p50_ms": pct(ms, 50),
        "p95_ms": pct(ms, 95),
        "p99_ms": pct(ms, 99),
        # CPU time of the reading process: the latency without other jobs on the machine.
        "cpu_p50_ms": pct([r["cpu_ms"] for r in records], 50),
        "cpu_p95_ms": pct([r["cpu_ms"] for r in records], 95),
    }


def record(
    sample_plate: str, kind: str, read: Any, ms: float, file: str, cpu_ms: float | None = None
) -> dict[str, Any]:
    truth = plate_key(sample_plate)
    return {
        "file": file,
        "kind": kind,
        "truth": sample_plate,
        "pred": read.text,
        "ok": read.key == truth,
        "char_acc": char_acc(read.key, truth),
        "confidence": read.confidence,
        "auto_ok": read.auto_ok,
        "ms": ms,
        "cpu_ms": ms if cpu_ms is None else cpu_ms,
    }


def bench_crops(reader: Any, samples: list[Sample]) -> list[dict[str, Any]]:
    out = []
    for s in samples:
        t0, c0 = time.perf_counter(), time.process_time()
        r = reader.read([s.data], crop="frame")
        ms = (time.perf_counter() - t0) * 1000
        cpu = (time.process_time() - c0) * 1000
        out.append(record(s.plate, s.kind, r, ms, s.file, cpu))
    return out


SCENES = DEV.parent / "scenes"


def bench_scenes(reader: Any) -> list[dict[str, Any]]:
    """Street/parking photos: find the plate in the picture, then read it."""
    with (SCENES / "labels.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    out = []
    for r in rows:
        data = (SCENES / "images" / r["file"]).read_bytes()
        t0 = time.perf_counter()
        res = reader.read([data])
        out.append(record(r["plate"], r["kind"], res, (time.perf_counter() - t0) * 1000, r["file"]))
    return out


def synthetic_frames(n: int, seed: int) -> list[tuple[str, str, bytes]]:
    from simulator.plates import render_frame

    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        f = render_frame(rng)
        assert f.jpeg is not None
        kind = "motorbike" if f.spec.layout == "motorbike" else "car"
        frames.append((f.spec.text, kind, f.jpeg))
    return frames


def bench_frames(reader: Any, frames: list[tuple[str, str, bytes]]) -> list[dict[str, Any]]:
    out = []
    for i, (text, kind, data) in enumerate(frames):
        t0, c0 = time.perf_counter(), time.process_time()
        r = reader.read([data])
        ms, cpu = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
        out.append(record(text, kind, r, ms, f"synthetic-{i}", cpu))
    return out


def bench_pool(workers: int, recognizer: str, samples: list[Sample]) -> dict[str, Any]:
    from lpr.pool import ReaderPool

    with ReaderPool(workers, recognizer) as pool:
        t0 = time.perf_counter()
        futures: list[tuple[Sample, float, Future]] = []
        for s in samples:
            futures.append((s, time.perf_counter(), pool.read([s.data], "frame")))
        recs = []
        for s, _start, fut in futures:
            r = fut.result()
            total = r.timings_ms.get("total", 0.0)
            recs.append(record(s.plate, s.kind, r, total, s.file, r.timings_ms.get("cpu", total)))
        wall = time.perf_counter() - t0
    summary = summarize(recs)
    summary["throughput_per_s"] = len(samples) / wall
    summary["workers"] = workers
    return summary


def easyocr_baseline(samples: list[Sample], frames: list[tuple[str, str, bytes]]) -> dict:
    """Plain EasyOCR readtext (CRAFT + english_g2), text joined and parsed as a plate."""
    from lpr.recognizers.easyocr_en import load_reader

    reader = load_reader(detector=True, recognizer=True)

    def run(data: bytes) -> tuple[str | None, float]:
        t0 = time.perf_counter()
        res = reader.readtext(data, detail=0)
        ms = (time.perf_counter() - t0) * 1000
        text = " ".join(res)
        try:
            return parse(text).key, ms
        except PlateSyntaxError:
            return plate_key(text) or None, ms

    out: dict[str, Any] = {}
    for name, items in (
        ("crops", [(s.plate, s.data) for s in samples]),
        ("frames", [(t, d) for t, _, d in frames]),
    ):
        if not items:
            continue
        ok, ms = 0, []
        for truth, data in items:
            key, t = run(data)
            ok += key == plate_key(truth)
            ms.append(t)
        out[name] = {"n": len(items), "exact": ok / len(items), "p50_ms": pct(ms, 50),
                     "p95_ms": pct(ms, 95)}  # fmt: skip
    return out


def calibration_table(records: list[dict[str, Any]]) -> list[tuple[float, float, float, int]]:
    """(threshold, auto rate, wrong among auto, wrong count) for a range of thresholds."""
    rows = []
    for th in (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99):
        auto = [r for r in records if r["confidence"] >= th]
        wrong = sum(1 for r in auto if not r["ok"])
        rows.append((th, len(auto) / max(1, len(records)), wrong / max(1, len(auto)), wrong))
    return rows


def fit_calibration(samples: list[Sample], recognizer: str) -> int:
    """Per-frame features and correctness on dev crops -> logistic weights + threshold table."""
    from lpr import calibration
    from lpr.images import to_bgr
    from lpr.reader import PlateReader

    reader = PlateReader(recognizer)
    feats, ok = [], []
    for s in samples:
        fr = reader._read_frame(to_bgr(s.data), "frame", {})
        if fr is None:
            continue
        feats.append(fr.features[:2])
        ok.append(fr.plates[0].plate.key == plate_key(s.plate))
    weights, bias = calibration.fit(feats, ok)
    print(f"{reader.recognizer.name}: {len(ok)} reads, {sum(ok)} right")
    print(f"WEIGHTS = {tuple(weights)}\nBIAS = {bias}")
    calibration.WEIGHTS, calibration.BIAS = tuple(weights), bias
    recs = [
        {"confidence": calibration.confidence_from((*f, 1.0)), "ok": o}
        for f, o in zip(feats, ok, strict=True)
    ]
    for th, auto, wrong, nw in calibration_table(recs):
        print(f"   threshold {th:.2f}: auto {100 * auto:5.1f}%  wrong {100 * wrong:5.2f}% ({nw})")
    return 0


def print_row(name: str, s: dict[str, Any]) -> None:
    if not s.get("n"):
        return
    print(
        f"{name:<34} {s['n']:>5} {100 * s['exact']:>6.1f}% {100 * s['char_acc']:>6.1f}% "
        f"{100 * s['wrong_auto_of_auto']:>6.2f}% {100 * s['review_rate']:>6.1f}% "
        f"{s['p50_ms']:>7.1f} {s['p95_ms']:>7.1f} {s['p99_ms']:>7.1f} "
        f"{s['cpu_p50_ms']:>7.1f} {s['cpu_p95_ms']:>7.1f}"
    )


def bench_recognizer(
    name: str, samples: list[Sample], frames: list[Any], args: argparse.Namespace, *, first: bool
) -> tuple[str, dict[str, Any]]:
    """One recognizer on the dev crops (per kind); the first one also on frames and scenes."""
    from lpr.reader import PlateReader

    reader = PlateReader(name)
    reader.warm_up()
    rname = reader.recognizer.name + (f"+{reader.second.name}" if reader.second else "")
    recs = bench_crops(reader, samples)
    entry: dict[str, Any] = {"crops": summarize(recs)}
    print_row(f"{rname}: dev crops", entry["crops"])
    for kind in ("motorbike", "car"):
        entry[f"crops_{kind}"] = summarize([r for r in recs if r["kind"] == kind])
        print_row(f"{rname}:   {kind}", entry[f"crops_{kind}"])
    if frames and first:
        frecs = bench_frames(reader, frames)
        entry["frames"] = summarize(frecs)
        print_row(f"{rname}: synthetic 1280x720 frames", entry["frames"])
        for kind in ("motorbike", "car"):
            entry[f"frames_{kind}"] = summarize([r for r in frecs if r["kind"] == kind])
            print_row(f"{rname}:   {kind}", entry[f"frames_{kind}"])
    if first and SCENES.exists():
        entry["scenes"] = summarize(bench_scenes(reader))
        print_row(f"{rname}: scene photos (find+read)", entry["scenes"])
    if args.calibrate:
        entry["calibration"] = calibration_table(recs)
        for th, auto, wrong, _nw in entry["calibration"]:
            print(f"   threshold {th:.2f}: auto {100 * auto:5.1f}%  wrong {100 * wrong:5.2f}%")
    if args.errors:
        for r in recs:
            if not r["ok"]:
                print(f"   {r['file']}: {r['truth']} -> {r['pred']} ({r['confidence']:.3f})")
    entry["errors"] = [
        {k: r[k] for k in ("file", "truth", "pred", "confidence")} for r in recs if not r["ok"]
    ]
    return rname, entry


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="dev images to use (default all)")
    ap.add_argument("--frames", type=int, default=100, help="synthetic full frames")
    ap.add_argument("--baseline", type=int, default=30, help="crops/frames for EasyOCR readtext")
    ap.add_argument("--recognizers", default="auto,plate,rapidocr,easyocr")
    ap.add_argument("--stock-limit", type=int, default=None, help="dev images for stock models")
    ap.add_argument("--workers", default="1,2", help="process pool sizes to measure")
    ap.add_argument("--pool-limit", type=int, default=200, help="dev images per pool run")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", action="store_true", help=f"write {RESULTS.relative_to(ROOT)}")
    ap.add_argument("--calibrate", action="store_true", help="print the threshold table")
    ap.add_argument("--errors", action="store_true", help="list wrong reads")
    ap.add_argument("--fit", action="store_true", help="fit the confidence calibration and stop")
    args = ap.parse_args(argv)

    import cv2

    cv2.setNumThreads(1)

    samples = load_dev(args.limit, args.seed)
    if args.fit:
        return fit_calibration(samples, args.recognizers.split(",")[0])
    results: dict[str, Any] = {"dev_images": len(samples), "recognizers": {}}
    header = (
        f"{'run':<34} {'n':>5} {'exact':>7} {'chars':>7} {'wrong':>7} {'review':>7} "
        f"{'p50ms':>7} {'p95ms':>7} {'p99ms':>7} {'cpu50':>7} {'cpu95':>7}"
    )
    print(header)
    print("-" * len(header))
    frames = synthetic_frames(args.frames, args.seed) if args.frames else []
    main_name = None
    for i, name in enumerate(n for n in args.recognizers.split(",") if n):
        subset = samples if i == 0 or not args.stock_limit else samples[: args.stock_limit]
        rname, entry = bench_recognizer(name, subset, frames, args, first=i == 0)
        results["recognizers"][rname] = entry
        main_name = main_name or name
    if main_name:
        pool_samples = samples[: args.pool_limit]
        results["pool"] = []
        for w in (int(x) for x in args.workers.split(",") if x):
            s = bench_pool(w, main_name, pool_samples)
            results["pool"].append(s)
            print_row(f"pool {w} worker(s), {s['throughput_per_s']:.1f} plates/s", s)
    if args.baseline:
        base = easyocr_baseline(samples[: args.baseline], frames[: args.baseline])
        results["easyocr_readtext"] = base
        for what, s in base.items():
            print(
                f"{'easyocr readtext: ' + what:<34} {s['n']:>5} {100 * s['exact']:>6.1f}% "
                f"{'':>7} {'':>7} {'':>7} {s['p50_ms']:>7.1f} {s['p95_ms']:>7.1f}"
            )
    if args.json:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2, default=float), encoding="utf-8")
        print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
