"""Fault drills against 8 gates in one go, quoting what the suite checks (issue 12).

The rig of ``tests/faults`` (a private PostgreSQL cluster, a private Mosquitto configured by
``parking mqtt config``, ``parking serve --no-lpr`` and ``parking worker`` as processes, the mock
tax authority, gates that keep each event until its decision): 2 lots of 2 entry and 2 exit
lanes. Cars stream through the lanes while, in turn: the gateway is killed with ``kill -9``, the
database crashes and restarts, the broker restarts and is killed with ``kill -9``, the tax
authority is away, the invoice worker is killed with ``kill -9``, an entry lane is offline while
its cars come and go (their entries arrive after their exits), and one exit is sent 50 times.
After each drill the bench waits for every answer and invoice (``recovery_s``: from the part's
return until then) and checks the whole run with ``tests.faults.checks`` (the same checks as the
tests). At the end, one JSON object: ``events``, ``decisions``, ``unanswered`` (after the final
drain), ``double_debits``, ``invoices_missing``, ``number_gaps``, ``recovery_s`` per fault, and
the rest of the checks. Goal: ``unanswered`` 0 and 0 of every other kind.

Bounded: ``--cars`` per drill at ``--pace`` seconds, every wait has a timeout; traffic only to
127.0.0.1. Written to bench/results/faults.json. Usage::

    .venv/bin/python bench/faults.py --json
    .venv/bin/python bench/faults.py --cars 40 --pace 0.1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.faults import drills  # noqa: E402
from tests.faults.checks import check_run  # noqa: E402
from tests.faults.rig import FaultRig, Traffic, fault_rig  # noqa: E402

LOTS, PAIRS = 2, 2  # 2 lots x (2 entry + 2 exit lanes) = 8 gates


def run(cars: int, pace_s: float, drain_s: float, echo: Callable[[str], None]) -> dict[str, Any]:
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp,
        fault_rig(Path(tmp), lots=LOTS, pairs=PAIRS) as rig,
    ):
        echo(f"rig up in {time.monotonic() - started:.1f}s: {len(rig.lanes)} gates")
        traffic = Traffic(rig)
        traffic.fill(cars)
        plan: list[tuple[str, Callable[[FaultRig, Traffic], drills.Drill]]] = [
            ("gateway_kill9", lambda r, t: drills.gateway_killed(r, t, cars=cars, pace_s=pace_s)),
            (
                "database_restart",
                lambda r, t: drills.database_restarted(r, t, cars=cars, pace_s=pace_s),
            ),
            (
                "broker_restart",
                lambda r, t: drills.broker_restarted(r, t, cars=cars, pace_s=pace_s),
            ),
            ("broker_kill9", lambda r, t: drills.broker_killed(r, t, cars=cars, pace_s=pace_s)),
            (
                "tax_authority_outage",
                lambda r, t: drills.tax_authority_down(r, t, cars=cars, pace_s=pace_s),
            ),
            (
                "invoice_worker_kill9",
                lambda r, t: drills.worker_killed(r, t, cars=cars, pace_s=pace_s),
            ),
            ("entry_gate_offline", lambda r, t: drills.entry_gate_offline(r, t, cars=4)),
            ("storm_50_copies", lambda r, t: drills.storm(r, t, copies=50)),
        ]
        faults: list[dict[str, Any]] = []
        for name, drill_of in plan:
            drill = drill_of(rig, traffic)
            outcome = drills.settle(rig, traffic, drill, timeout=drain_s)
            report = outcome.report
            faults.append(
                {
                    "fault": name,
                    "sent": drill.sent,
                    "sent_while_down": drill.sent_while_down,
                    "down_s": drill.down_s,
                    "recovery_s": outcome.recovery_s,
                    "problems": report.problems,
                }
            )
            echo(
                f"{name:22s} sent {drill.sent:3d} ({drill.sent_while_down:3d} while down "
                f"{drill.down_s:5.1f}s)  recovered in {outcome.recovery_s:5.1f}s  "
                + ("ok" if report.ok else "; ".join(report.problems))
            )
        deadline = time.monotonic() + drain_s
        while traffic.unanswered() and time.monotonic() < deadline:
            time.sleep(0.2)
        final = check_run(rig.database_url, traffic.answers(), env=rig.env, cli=True)
    return {
        "bench": "faults",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "gates": LOTS * PAIRS * 2,
        "cars_per_drill": cars,
        "pace_s": pace_s,
        "events": final.events,
        "decisions": final.decisions,
        "unanswered": final.unanswered,
        "double_debits": final.double_debits,
        "invoices_missing": final.invoices_missing,
        "number_gaps": final.number_gaps,
        "recovery_s": {f["fault"]: f["recovery_s"] for f in faults},
        "paid_exits": final.paid_exits,
        "invoices": final.invoices,
        "debits_missing": final.debits_missing,
        "invoices_not_accepted": final.invoices_not_accepted,
        "invoices_extra": final.invoices_extra,
        "passages_missing": final.passages_missing,
        "answers_disagree": final.answers_disagree,
        "ghost_sessions": final.ghost_sessions,
        "trial_balance_vnd": final.trial_balance_vnd,
        "reconcile_clean": not final.reconcile,
        "problems": final.problems,
        "faults": faults,
        "elapsed_s": round(time.monotonic() - started, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cars", type=int, default=24, help="cars through the lanes per drill")
    ap.add_argument("--pace", type=float, default=0.15, help="seconds between cars")
    ap.add_argument("--drain", type=float, default=120.0, help="longest wait after a drill (s)")
    ap.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = ap.parse_args()
    out = sys.stderr if args.json else sys.stdout

    def echo(line: str) -> None:
        print(line, file=out, flush=True)

    result = run(args.cars, args.pace, args.drain, echo)
    path = ROOT / "bench" / "results" / "faults.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        keys = ("events", "decisions", "unanswered", "double_debits", "invoices_missing")
        echo("  ".join(f"{k} {result[k]}" for k in (*keys, "number_gaps")))
        echo(f"written to {path}")
    return 0 if not result["problems"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
