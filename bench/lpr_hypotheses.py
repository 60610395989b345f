"""How much the reader's hypotheses and key scores know, on any labelled folder of plate crops.

    .venv/bin/python bench/lpr_hypotheses.py                      # the dev set in ../shared
    .venv/bin/python bench/lpr_hypotheses.py --images DIR --labels CSV --limit 300 --json
    .venv/bin/python bench/lpr_hypotheses.py --limit 0 --synthetic 40   # simulator passages

The exit matcher (billing) weighs the cars inside by ``lpr.score.score_key``; this reports, for
the reader alone, what that can rest on: the auto_ok and exact-read shares (today's no-stop
share), how often the labelled plate is hypothesis #1 / in the top 5, how often it scores
best among itself and its near-twins (valid plates one confusable character away,
``lpr.grammar.twins``), how often it and the best twin score above the 'not inside'
background, and the cost of one score_key call; with --synthetic, the same per hard case of
the simulator (dirt, glare, night, motion blur, tilt) on whole gate frames. Images are read
from where they are, never copied. Writes bench/results/lpr_hypotheses.json with --json.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lpr.grammar import PlateSyntaxError, parse, plate_key, twins  # noqa: E402

DEV = ROOT.parent / "shared" / "data" / "vn-plates" / "dev"
RESULTS = ROOT / "bench" / "results" / "lpr_hypotheses.json"
COLUMNS = {"file", "plate", "kind", "lines"}


def load_labels(images: Path, labels: Path, limit: int | None) -> list[dict[str, str]]:
    with labels.open(encoding="utf-8") as f:
        reader = csv.DictReader(f)
        cols = set(reader.fieldnames or ())
        if cols != COLUMNS:
            raise SystemExit(f"{labels}: columns {sorted(cols)}, expected {sorted(COLUMNS)}")
        rows = list(reader)
    for r in rows:
        if not (images / r["file"]).is_file():
            raise SystemExit(f"{labels}: {r['file']} is not in {images}")
        try:
            parse(r["plate"])
        except PlateSyntaxError as exc:
            raise SystemExit(f"{labels}: {r['file']}: {exc}") from None
    return rows if limit is None else rows[:limit]


def trial(reader: Any, data: bytes | list[bytes], plate: str) -> dict[str, Any]:
    """One passage: a dev crop, or the frames of a synthetic passage (read as a gate does)."""
    from lpr.score import background_logprob, score_key

    t0 = time.perf_counter()
    read = reader.read([data], crop="frame") if isinstance(data, bytes) else reader.read(data)
    ms = (time.perf_counter() - t0) * 1000
    truth = plate_key(plate)
    keys = [h.key for h in read.hypotheses]
    truth_score = score_key(read, truth)
    twin_keys = [plate_key(t) for t in twins(plate)]
    t1 = time.perf_counter()
    twin_scores = [score_key(read, k) for k in twin_keys]
    us = (time.perf_counter() - t1) * 1e6 / max(1, len(twin_keys))
    bg = background_logprob(read)
    best_twin = max(twin_scores, default=-np.inf)
    return {
        "exact": read.key == truth,
        "auto_ok": read.auto_ok,
        "auto_wrong": read.auto_ok and read.key != truth,
        "top1": bool(keys) and keys[0] == truth,
        "top5": truth in keys[:5],
        "read": bool(read.evidence),
        "twins": len(twin_keys),
        "beats_twins": truth_score > best_twin,
        "truth_gap": truth_score - best_twin if twin_keys else None,
        "truth_above_bg": truth_score > bg,
        "twin_above_bg": best_twin > bg,
        "ms": ms,
        "score_us": us if twin_keys else None,
    }


def summarize(trials: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(trials)

    def share(k: str, of: list[dict[str, Any]] | None = None) -> float:
        rows = trials if of is None else of
        return round(sum(bool(t[k]) for t in rows) / len(rows), 4) if rows else 0.0

    with_twins = [t for t in trials if t["twins"]]
    gaps = [t["truth_gap"] for t in with_twins]
    us = [t["score_us"] for t in with_twins]
    ms = [t["ms"] for t in trials]
    return {
        "images": n,
        "auto_ok": share("auto_ok"),
        "auto_wrong": share("auto_wrong"),
        "exact": share("exact"),
        "truth_top1": share("top1"),
        "truth_top5": share("top5"),
        "images_with_twins": len(with_twins),
        "truth_beats_twins": share("beats_twins", with_twins),
        "truth_twin_gap_p5": round(float(np.percentile(gaps, 5)), 2) if gaps else None,
        "truth_twin_gap_p50": round(float(np.percentile(gaps, 50)), 2) if gaps else None,
        "truth_above_background": share("truth_above_bg"),
        "best_twin_above_background": share("twin_above_bg", with_twins),
        "read_p50_ms": round(statistics.median(ms), 1) if ms else None,
        "score_key_p50_us": round(statistics.median(us), 1) if us else None,
        "score_key_p95_us": round(float(np.percentile(us, 95)), 1) if us else None,
    }


def synthetic(reader: Any, per_case: int, frames: int, seed: int) -> dict[str, Any]:
    """Passages rendered by the simulator, per hard case (and ordinary ones), as whole frames."""
    from simulator.plates import HARD_CASES, random_spec, render_passage

    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    for hard in (None, *HARD_CASES):
        trials = []
        for _ in range(per_case):
            spec = random_spec(rng)
            jpegs = [f.jpeg for f in render_passage(rng, frames, spec, hard=hard) if f.jpeg]
            trials.append(trial(reader, jpegs, spec.text))
        out[hard or "ordinary"] = summarize(trials)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=Path, default=DEV / "images")
    ap.add_argument("--labels", type=Path, default=DEV / "labels.csv")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--recognizer", default="auto")
    ap.add_argument("--synthetic", type=int, default=0, help="synthetic passages per hard case")
    ap.add_argument("--frames", type=int, default=2, help="frames per synthetic passage")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--json", action="store_true", help=f"write {RESULTS.relative_to(ROOT)}")
    args = ap.parse_args(argv)
    rows = load_labels(args.images, args.labels, args.limit)

    import cv2

    cv2.setNumThreads(1)
    from lpr.reader import PlateReader

    reader = PlateReader(args.recognizer)
    reader.warm_up()
    trials = []
    for i, r in enumerate(rows, 1):
        trials.append(trial(reader, (args.images / r["file"]).read_bytes(), r["plate"]))
        if i % 100 == 0:
            print(f"  {i}/{len(rows)}", file=sys.stderr)
    result = summarize(trials)
    for k, v in result.items():
        print(f"{k:<30} {v}")
    if args.synthetic:
        result["synthetic"] = synthetic(reader, args.synthetic, args.frames, args.seed)
        cols = ("exact", "auto_ok", "truth_top1", "truth_top5", "truth_beats_twins")
        print(f"\n{'synthetic passages':<20}" + "".join(f"{c:>18}" for c in cols))
        for case, summary in result["synthetic"].items():
            print(f"{case:<20}" + "".join(f"{summary[c]:>18}" for c in cols))
    if args.json:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
