"""No-stop benchmark: labelled plate images read as exits of a lot full of cars (issue 16).

    .venv/bin/python bench/no_stop.py --images ../shared/data/vn-plates/dev/images \\
        --labels ../shared/data/vn-plates/dev/labels.csv --inside 1000 [--twins 0.1] [--json]

A lot on SQLite holds ``--inside`` open sessions of registered cars with money: every distinct
labelled plate, distractors drawn from the same provinces and series with random numbers, and
with ``--twins F`` a near-twin (one confusable character apart) for a fraction F of the
labelled plates. Each image is then read as the exit of its plate's car through the real path
(lpr's reader, the read's evidence, ``settle_passage`` with its matching) and the car is put
back inside, so every image is its own trial. Counted: passages settled alone under the right
plate (auto_correct), under another plate (auto_wrong: a wrong charge), and sent to a person
(review); the read and decision time per passage; and the reader alone (auto_ok and right).

With ``--json`` stdout is exactly one JSON object; the table and notes go to stderr. The
figures are also written to bench/results/no_stop*.json. Bad input (an empty or unreadable
image, a labels file with other columns, fewer inside than labelled plates) is an error with
exit code 2, before anything is measured.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, event, select  # noqa: E402
from sqlalchemy.pool import StaticPool  # noqa: E402

from billing.adapters import orm  # noqa: E402
from billing.adapters.uow import UnitOfWork  # noqa: E402
from billing.domain.decisions import PassageInput  # noqa: E402
from billing.domain.model import Owner, OwnerKind  # noqa: E402
from billing.domain.plates import canonical_plate, plate_key  # noqa: E402
from billing.domain.policy import LotPolicy  # noqa: E402
from billing.domain.tariffs import local_zone  # noqa: E402
from billing.services import (  # noqa: E402
    add_gate,
    add_vehicle,
    create_account,
    create_lot,
    seed_demo,
    settle_passage,
)
from billing.services.credits import manual_credit  # noqa: E402
from gateway.db import make_session_factory  # noqa: E402
from gateway.plate_reading import LprEvidence  # noqa: E402

COLUMNS = ("file", "plate", "kind", "lines")
LOT, ENTRY, EXIT = "bench-nostop", "bench-nostop-in", "bench-nostop-out"
T0 = datetime(2026, 11, 2, 6, 0, tzinfo=local_zone("Asia/Ho_Chi_Minh"))
RESULTS = ROOT / "bench" / "results"
# Characters a camera confuses (issue 16): a twin differs from its plate in one of these.
CONFUSABLE = {
    "8": "B36",
    "B": "8",
    "0": "D86",
    "D": "0",
    "1": "7",
    "7": "1",
    "5": "S6",
    "S": "5",
    "6": "G58",
    "G": "6",
    "M": "N",
    "N": "M",
    "K": "X",
    "X": "K",
    "2": "Z",
    "Z": "2",
    "3": "8",
    "9": "8",
    "U": "V",
    "V": "U",
}


class BadInput(Exception):
    """The benchmark's input is unusable; the message says which file and why."""


@dataclass(frozen=True)
class Sample:
    file: str
    plate: str  # canonical
    key: str
    data: bytes


def load_samples(images: Path, labels: Path) -> list[Sample]:
    """The labelled images, every one checked: readable CSV, known columns, valid plates,
    a non-empty image that decodes."""
    from lpr.errors import BadImage
    from lpr.images import to_bgr

    if not labels.is_file():
        raise BadInput(f"labels file {labels} does not exist")
    if not images.is_dir():
        raise BadInput(f"images folder {images} does not exist")
    with labels.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header = tuple(reader.fieldnames or ())
        unknown = [c for c in header if c not in COLUMNS]
        missing = [c for c in COLUMNS if c not in header]
        if unknown or missing:
            raise BadInput(
                f"labels file {labels}: expected the columns {','.join(COLUMNS)}"
                + (f"; unknown: {','.join(unknown)}" if unknown else "")
                + (f"; missing: {','.join(missing)}" if missing else "")
            )
        rows = list(reader)
    if not rows:
        raise BadInput(f"labels file {labels} has no rows")
    out = []
    for line, row in enumerate(rows, 2):
        plate = canonical_plate(row["plate"] or "")
        if plate is None:
            raise BadInput(f"{labels}:{line}: {row['plate']!r} is not a valid Vietnamese plate")
        path = images / row["file"]
        if not path.is_file():
            raise BadInput(f"{labels}:{line}: image {path} does not exist")
        data = path.read_bytes()
        if not data:
            raise BadInput(f"image {path} is empty")
        try:
            to_bgr(data)
        except BadImage as exc:
            raise BadInput(f"image {path} is not a readable image: {exc}") from None
        out.append(Sample(row["file"], plate, plate_key(plate), data))
    return out


_NUMBER = re.compile(r"[0-9]{3}\.[0-9]{2}$|[0-9]{4,5}$")


def distractor(rng: random.Random, like: str) -> str | None:
    """A plate of the same province and series as ``like`` with a random number."""
    m = _NUMBER.search(like)
    if m is None:
        return None
    digits = "".join(rng.choice("0123456789") for _ in range(sum(c.isdigit() for c in m[0])))
    number = f"{digits[:3]}.{digits[3:]}" if "." in m[0] else digits
    return canonical_plate(like[: m.start()] + number)


def twin(rng: random.Random, plate: str) -> str | None:
    """A valid plate one confusable character away from ``plate``, or None."""
    key = plate_key(plate)
    options = []
    for i, c in enumerate(key):
        for other in CONFUSABLE.get(c, ""):
            candidate = canonical_plate(key[:i] + other + key[i + 1 :])
            if candidate is not None and plate_key(candidate) == key[:i] + other + key[i + 1 :]:
                options.append(candidate)
    return rng.choice(options) if options else None


def build_lot(
    uow: UnitOfWork, labelled: list[str], inside: int, twins: float, seed: int
) -> list[str]:
    """Register and park ``inside`` cars (the labelled plates first); returns their plates."""
    rng = random.Random(seed)
    seed_demo(uow)  # operator and tariffs
    create_lot(uow, LOT, "Bench lot", "hanoi-parking", "hn-central", capacity=inside)
    add_gate(uow, ENTRY, LOT, "entry")
    add_gate(uow, EXIT, LOT, "exit")
    plates = list(dict.fromkeys(labelled))
    keys = {plate_key(p) for p in plates}
    for p in rng.sample(plates, round(len(plates) * twins)) if twins else []:
        t = twin(rng, p)
        if t is not None and plate_key(t) not in keys:
            plates.append(t)
            keys.add(plate_key(t))
    attempts = 0
    while len(plates) < inside and attempts < inside * 50:
        attempts += 1
        d = distractor(rng, rng.choice(labelled))
        if d is not None and plate_key(d) not in keys:
            plates.append(d)
            keys.add(plate_key(d))
    if len(plates) < inside:
        raise BadInput(f"could not make {inside} distinct plates from the labels")
    account = 0
    for i, p in enumerate(plates):
        if i % 50 == 0:
            account = create_account(uow, Owner(OwnerKind.PERSON, f"Bench {i // 50}"))
            manual_credit(
                uow, account, 10**12, key=f"bench-{i}", actor="bench", reason="bench money"
            )
        add_vehicle(uow, account, p, "car_le9")
        enter(uow, p, T0, f"in-{i}")
    return plates


def enter(uow: UnitOfWork, plate: str, at: datetime, event_id: str) -> None:
    d = settle_passage(uow, PassageInput(event_id, LOT, ENTRY, "entry", at, plate, 1.0))
    if not d.open:
        raise RuntimeError(f"{plate} could not enter the bench lot: {d.reason}")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


@dataclass
class Tally:
    """What the trials found so far."""

    auto_correct: int = 0
    auto_wrong: int = 0
    review: int = 0
    reader_ok: int = 0
    reader_wrong: int = 0
    by_matching: int = 0  # right, and not the reader's own auto_ok answer
    evidence_seen: bool = False
    recognizer: str = ""
    ms: list[float] = field(default_factory=list)
    read_ms: list[float] = field(default_factory=list)
    wrong: list[dict[str, Any]] = field(default_factory=list)


def check_args(args: argparse.Namespace, samples: list[Sample]) -> int:
    """The number of distinct labelled plates, once the arguments are known to fit them."""
    distinct = len({s.key for s in samples})
    if args.inside < distinct:
        raise BadInput(
            f"--inside {args.inside} is smaller than the {distinct} distinct labelled plates: "
            "every labelled car must be inside"
        )
    if not 0.0 <= args.twins <= 1.0:
        raise BadInput("--twins is a fraction between 0 and 1")
    return distinct


def sqlite_uow() -> UnitOfWork:
    engine = create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _fk(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA foreign_keys=ON")

    orm.metadata.create_all(engine)
    return UnitOfWork(make_session_factory(engine))


def trial(uow: UnitOfWork, reader: Any, s: Sample, i: int, at: datetime, tally: Tally) -> None:
    """One image read as its car's exit, through the reader, matching and settlement."""
    started = time.perf_counter()
    read = reader.read([s.data], crop="frame")
    tally.read_ms.append((time.perf_counter() - started) * 1000)
    evidence = LprEvidence.of(read)
    decision = settle_passage(
        uow,
        PassageInput(
            f"out-{i}",
            LOT,
            EXIT,
            "exit",
            at,
            read.text,
            float(read.confidence),
            not (read.auto_ok and read.text),
            evidence=evidence,
        ),
    )
    tally.ms.append((time.perf_counter() - started) * 1000)
    tally.evidence_seen = tally.evidence_seen or evidence is not None
    tally.recognizer = read.recognizer
    if read.auto_ok and read.text:
        tally.reader_ok += read.key == s.key
        tally.reader_wrong += read.key != s.key
    charged = decision.open and not decision.review and decision.plate is not None
    if charged and plate_key(decision.plate or "") == s.key:
        tally.auto_correct += 1
        tally.by_matching += not (read.auto_ok and read.key == s.key)
    elif charged:
        tally.auto_wrong += 1
        tally.wrong.append({"file": s.file, "label": s.plate, "charged": decision.plate})
    else:
        tally.review += 1
    if decision.session_id is not None and decision.open:
        # the car that left (whichever it was) comes back: the lot stays as it was
        enter(uow, decision.plate or s.plate, at + timedelta(seconds=1), f"back-{i}")


def _with_label_twins(wrong: list[dict[str, Any]], samples: list[Sample]) -> list[dict[str, Any]]:
    """Each wrong charge, with the other images labelled with the plate that was charged.

    A wrong charge of a plate that another image of the set carries as its label is worth a
    look before it is counted against the reader: the same car photographed twice with two
    labels is a labelling slip (the counts are left as they are; this only points at the files).
    """
    by_key: dict[str, list[str]] = {}
    for s in samples:
        by_key.setdefault(s.key, []).append(s.file)
    return [
        {**w, "charged_is_label_of": by_key.get(plate_key(str(w["charged"] or "")), [])}
        for w in wrong
    ]


def run(args: argparse.Namespace) -> dict[str, Any]:
    samples = load_samples(Path(args.images), Path(args.labels))
    if args.limit:
        samples = random.Random(args.seed).sample(samples, min(args.limit, len(samples)))
    distinct = check_args(args, samples)
    from lpr.reader import PlateReader

    uow = sqlite_uow()
    note(f"parking {args.inside} cars ({args.twins:.0%} of the labelled ones with a twin) ...")
    build_lot(uow, [s.plate for s in samples], args.inside, args.twins, args.seed)
    policy = LotPolicy()
    reader = PlateReader(args.recognizer)
    reader.warm_up()
    tally = Tally()
    at = T0
    for i, s in enumerate(samples):
        at += timedelta(hours=2)
        trial(uow, reader, s, i, at, tally)
    n = len(samples)
    decide = [a - b for a, b in zip(tally.ms, tally.read_ms, strict=True)]
    out: dict[str, Any] = {
        "passages": n,
        "auto_correct": tally.auto_correct,
        "auto_wrong": tally.auto_wrong,
        "review": tally.review,
        "p50_ms": round(statistics.median(tally.ms), 2),
        "p95_ms": round(pct(tally.ms, 95), 2),
        "read_p50_ms": round(statistics.median(tally.read_ms), 2),
        "decision_p50_ms": round(statistics.median(decide), 2),
        "decision_p95_ms": round(pct(decide, 95), 2),
        "auto_correct_share": round(tally.auto_correct / n, 4),
        "auto_wrong_share": round(tally.auto_wrong / n, 5),
        "reader_auto_ok_right": tally.reader_ok,
        "reader_auto_ok_wrong": tally.reader_wrong,
        "reader_auto_ok_share": round(tally.reader_ok / n, 4),
        "settled_by_matching": tally.by_matching,
        "inside": args.inside,
        "twins": args.twins,
        "distinct_plates": distinct,
        "match_threshold": policy.match_threshold,
        "match_not_inside_prior": policy.match_not_inside_prior,
        "reader_evidence": tally.evidence_seen,
        "recognizer": tally.recognizer,
        "wrong_charges": _with_label_twins(tally.wrong, samples),
        "posteriors": sweep(uow, samples),
    }
    if not tally.evidence_seen:
        note("this lpr gives no evidence (no score_key): matching was not used")
    return out


def sweep(uow: UnitOfWork, samples: list[Sample]) -> list[dict[str, Any]]:
    """Calibration: how the matched exits would fare at other thresholds (from the evidence
    kept on each passage), for choosing the lot's ``match_threshold``."""
    truth = {f"out-{i}": s.key for i, s in enumerate(samples)}
    with uow:
        rows = uow.session.execute(
            select(orm.Passage.event_id, orm.Passage.match_evidence).where(
                orm.Passage.direction == "exit"
            )
        ).all()
    table = []
    for t in (0.9, 0.99, 0.995, 0.999, 0.9995, 0.9999):
        right = wrong_ = 0
        for event_id, ev in rows:
            if not ev or ev.get("best") is None or event_id not in truth:
                continue
            if ev["posterior"] >= t:
                right += ev["best"] == truth[event_id]
                wrong_ += ev["best"] != truth[event_id]
        table.append({"threshold": t, "match_right": right, "match_wrong": wrong_})
    return table


def note(text: str) -> None:
    print(text, file=sys.stderr)


def table(r: dict[str, Any]) -> str:
    n = r["passages"]
    lines = [
        f"no-stop bench: {n} passages, {r['inside']} cars inside, twins {r['twins']:.0%}, "
        f"threshold {r['match_threshold']}, not-inside prior {r['match_not_inside_prior']}",
        f"  auto_correct {r['auto_correct']:5d}  {r['auto_correct'] / n:7.2%}",
        f"  auto_wrong   {r['auto_wrong']:5d}  {r['auto_wrong'] / n:7.2%}",
        f"  review       {r['review']:5d}  {r['review'] / n:7.2%}",
        f"  reader alone: auto_ok and right {r['reader_auto_ok_right']} "
        f"({r['reader_auto_ok_share']:.2%}), auto_ok and wrong {r['reader_auto_ok_wrong']}",
        f"  read + decision: p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms "
        f"(read alone p50 {r['read_p50_ms']:.1f} ms, decision p50 {r['decision_p50_ms']:.1f} ms)",
        "  threshold sweep (matched exits): "
        + ", ".join(
            f"{s['threshold']}: {s['match_right']} right/{s['match_wrong']} wrong"
            for s in r["posteriors"]
        ),
    ]
    lines += [
        f"  WRONG: {w['file']} label {w['label']} charged {w['charged']}"
        + (
            f" (the label of {', '.join(w['charged_is_label_of'])})"
            if w["charged_is_label_of"]
            else ""
        )
        for w in r["wrong_charges"]
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", required=True, help="folder of plate images")
    ap.add_argument("--labels", required=True, help="CSV with the columns file,plate,kind,lines")
    ap.add_argument("--inside", type=int, required=True, help="open sessions in the lot")
    ap.add_argument("--twins", type=float, default=0.0, help="fraction of plates with a twin")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    ap.add_argument("--limit", type=int, default=0, help="a random subset of the images")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--recognizer", default="auto")
    ap.add_argument("--out", help="results file (default bench/results/no_stop[_twins].json)")
    args = ap.parse_args(argv)
    try:
        result = run(args)
    except BadInput as exc:
        print(f"no_stop: {exc}", file=sys.stderr)
        return 2
    out = (
        Path(args.out)
        if args.out
        else RESULTS / ("no_stop_twins.json" if args.twins else "no_stop.json")
    )
    if not args.limit or args.out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(result))
        note(table(result))
    else:
        print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
