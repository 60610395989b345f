"""What must hold after any fault: the promises of issue 12, checked against the gates' own
answers and the database, in one place for the fault tests and ``bench/faults.py``.

- every event a gate sent is answered, exactly once: one decision at the gate, one passage in
  billing, and the two agree (open or not, the fare);
- one debit per paid exit (none twice, none missing), the trial balance zero;
- one original invoice per debit, each accepted by the tax authority, for the debit's amount;
- invoice numbers gapless per (template, series, year), and the counter not ahead of them;
- no ghost session: none open for a car that has left since it began (an entry that arrived
  after its car's exit must not open one);
- ``parking reconcile`` clean for every local day the events touched.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
PARKING = str(Path(sys.executable).parent / "parking")


class Answer(Protocol):
    """What a gate received as an event's decision (``edge.lane.Decision`` is one)."""

    @property
    def open(self) -> bool: ...

    @property
    def fare_vnd(self) -> int | None: ...


@dataclass(frozen=True)
class FaultReport:
    events: int  # sent by the gates
    decisions: int  # answered at the gate
    unanswered: int  # no decision at the gate
    passages_missing: int  # answered, but billing has no passage for it
    answers_disagree: int  # the gate's answer is not billing's decision
    paid_exits: int
    double_debits: int  # events with more than one fare entry in the ledger
    debits_missing: int  # paid exits (by the gate's answer) without their fare entry
    trial_balance_vnd: int
    invoices: int  # original invoices of fares
    invoices_missing: int  # fare entries without their invoice
    invoices_extra: int  # events with more than one original invoice
    invoices_not_accepted: int
    invoice_amount_wrong: int
    number_gaps: int  # numbers missing, repeated, or burned by the counter
    ghost_sessions: int  # open sessions of cars that passed an exit of the lot after entering
    reconcile: tuple[str, ...] = field(default=())  # what `parking reconcile` said was wrong

    @property
    def problems(self) -> list[str]:
        """Each broken promise as a line (empty: the run kept them all)."""
        out = [
            f"{name.replace('_', ' ')}: {value}"
            for name, value in (
                ("unanswered", self.unanswered),
                ("passages_missing", self.passages_missing),
                ("answers_disagree", self.answers_disagree),
                ("double_debits", self.double_debits),
                ("debits_missing", self.debits_missing),
                ("trial_balance_vnd", self.trial_balance_vnd),
                ("invoices_missing", self.invoices_missing),
                ("invoices_extra", self.invoices_extra),
                ("invoices_not_accepted", self.invoices_not_accepted),
                ("invoice_amount_wrong", self.invoice_amount_wrong),
                ("number_gaps", self.number_gaps),
                ("ghost_sessions", self.ghost_sessions),
            )
            if value
        ]
        return out + [f"reconcile: {line}" for line in self.reconcile]

    @property
    def ok(self) -> bool:
        return not self.problems


def number_gaps(numbers: Sequence[int], counter: int | None) -> int:
    """Numbers of one (template, series, year) that break "1, 2, ... n, each once": the ones
    missing below the highest, the repeats, and those the counter gave beyond the highest."""
    seen = Counter(numbers)
    top = max(seen, default=0)
    missing = sum(1 for n in range(1, top + 1) if n not in seen)
    repeats = sum(c - 1 for c in seen.values())
    burned = max(0, (counter or 0) - top)
    return missing + repeats + burned


def check_run(
    database_url: str,
    answers: Mapping[str, Answer | None],
    *,
    env: Mapping[str, str],
    reconcile: bool = True,
    cli: bool = False,
) -> FaultReport:
    """Check a run: ``answers`` is every event id the gates sent with the decision each got
    (None: none yet). Reconciliation is ``parking reconcile``'s own (the same service with the
    same invoice and payment lookups) in this process, or with ``cli`` the command itself run
    with ``env`` (a few seconds more per day on a loaded machine)."""
    from billing.adapters import orm
    from einvoice.db import counters, invoices
    from gateway.db import make_engine, make_session_factory

    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as s:
            ids = list(answers)
            passages = {
                r.event_id: r
                for chunk in _chunks(ids)
                for r in s.execute(
                    select(
                        orm.Passage.event_id,
                        orm.Passage.opened,
                        orm.Passage.fare_vnd,
                        orm.Passage.captured_at,
                    ).where(orm.Passage.event_id.in_(chunk))
                ).all()
            }
            fares = Counter(
                r[0]
                for r in s.execute(
                    select(orm.JournalEntry.event_id).where(orm.JournalEntry.kind == "fare")
                ).all()
            )
            trial = int(
                s.scalar(select(func.coalesce(func.sum(orm.JournalLine.amount_vnd), 0))) or 0
            )
            fare_amounts = _fare_amounts(s)
            originals = s.execute(
                select(invoices.c.event_id, invoices.c.status, invoices.c.total_vnd).where(
                    invoices.c.kind == "original", invoices.c.event_id.is_not(None)
                )
            ).all()
            numbered = s.execute(
                select(
                    invoices.c.template,
                    invoices.c.series,
                    invoices.c.year,
                    invoices.c.number,
                    invoices.c.mccqt,
                )
            ).all()
            ghosts = _ghost_sessions(s)
            counted = {
                (r.template, r.series, r.year): int(r.last_number)
                for r in s.execute(select(counters)).all()
            }
    finally:
        engine.dispose()

    decided = {e: a for e, a in answers.items() if a is not None}
    disagree = 0
    for event_id, answer in decided.items():
        row = passages.get(event_id)
        if row is not None and (
            bool(row.opened) != bool(answer.open)
            or (row.fare_vnd or None) != (answer.fare_vnd or None)
        ):
            disagree += 1
    paid = [e for e, a in decided.items() if a.fare_vnd]
    invoiced = Counter(r.event_id for r in originals)
    series: dict[tuple[str, str, int], list[int]] = {}
    for r in numbered:
        series.setdefault((r.template, r.series, r.year), []).append(int(r.number))
        if r.mccqt and r.mccqt.startswith("M"):  # a cash register's code: M1-26-PK001-000..
            template, _yy, register, sequence = r.mccqt[1:].split("-")
            series.setdefault((f"MCCQT{template}", register, r.year), []).append(int(sequence))
    gaps = sum(number_gaps(nums, counted.get(key)) for key, nums in series.items())
    gaps += sum(n for key, n in counted.items() if key not in series)  # all burned
    problems: tuple[str, ...] = ()
    if reconcile:
        captured = [r.captured_at for r in passages.values()]
        days = local_days(captured)
        problems = run_reconcile(env, days) if cli else reconcile_here(database_url, days)
    return FaultReport(
        events=len(answers),
        decisions=len(decided),
        unanswered=len(answers) - len(decided),
        passages_missing=sum(1 for e in decided if e not in passages),
        answers_disagree=disagree,
        paid_exits=len(paid),
        double_debits=sum(1 for c in fares.values() if c > 1),
        debits_missing=sum(1 for e in paid if fares.get(e, 0) == 0),
        trial_balance_vnd=trial,
        invoices=len(originals),
        invoices_missing=sum(1 for e in fares if invoiced.get(e, 0) == 0),
        invoices_extra=sum(1 for c in invoiced.values() if c > 1),
        invoices_not_accepted=sum(1 for r in originals if r.status != "accepted"),
        invoice_amount_wrong=sum(
            1
            for r in originals
            if r.event_id in fare_amounts and r.total_vnd != fare_amounts[r.event_id]
        ),
        number_gaps=gaps,
        ghost_sessions=ghosts,
        reconcile=problems,
    )


def _chunks(ids: list[str], size: int = 500) -> list[list[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)] or [[]]


def _ghost_sessions(s: object) -> int:
    """Open sessions whose car passed an exit of the same lot after the session began."""
    from sqlalchemy import and_, exists
    from sqlalchemy.orm import Session

    from billing.adapters import orm

    assert isinstance(s, Session)
    sess, p = orm.ParkingSession, orm.Passage
    later_exit = exists().where(
        and_(
            p.lot_id == sess.lot_id,
            p.plate_key == sess.plate_key,
            p.direction == "exit",
            p.captured_at > sess.entry_at,
        )
    )
    stmt = select(func.count()).select_from(sess).where(sess.status == "open", later_exit)
    return int(s.scalar(stmt) or 0)


def _fare_amounts(s: object) -> dict[str, int]:
    """Each fare's amount: what the driver's account was debited for the event."""
    from sqlalchemy.orm import Session

    from billing.adapters import orm

    assert isinstance(s, Session)
    rows = s.execute(
        select(orm.JournalEntry.event_id, func.sum(orm.JournalLine.amount_vnd))
        .join(orm.JournalLine, orm.JournalLine.entry_id == orm.JournalEntry.id)
        .where(orm.JournalEntry.kind == "fare", orm.JournalLine.amount_vnd > 0)
        .group_by(orm.JournalEntry.event_id)
    ).all()
    return {str(r[0]): int(r[1]) for r in rows}


def local_days(times: Sequence[datetime]) -> list[date]:
    """Every local day from the first to the last of ``times`` (and today's)."""
    today = datetime.now(LOCAL).date()
    days = [t.astimezone(LOCAL).date() for t in times] + [today]
    first, last = min(days), max(days)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def reconcile_here(database_url: str, days: Sequence[date]) -> tuple[str, ...]:
    """What ``parking reconcile --date D`` reports for each day, without its process."""
    from billing.adapters.uow import UnitOfWork
    from billing.services import reconcile
    from gateway.cli.billing import invoice_lookup, payment_records
    from gateway.db import make_engine, make_session_factory

    engine = make_engine(database_url)
    problems: list[str] = []
    try:
        sessions = make_session_factory(engine)
        lookup, why_not = invoice_lookup(engine, sessions)
        records, why_unchecked = payment_records(engine, sessions)
        if lookup is None or records is None:
            return (f"not everything checked: {why_not or why_unchecked}",)
        for day in days:
            r = reconcile(UnitOfWork(sessions), day, None, invoices=lookup, payments=records)
            problems += [
                f"{day}: {m.kind} {m.lot_id or '-'} {m.ref}: {m.detail}" for m in r.mismatches
            ]
            if r.trial_balance_vnd:
                problems.append(f"{day}: trial balance {r.trial_balance_vnd}")
    finally:
        engine.dispose()
    return tuple(problems)


def run_reconcile(env: Mapping[str, str], days: Sequence[date]) -> tuple[str, ...]:
    """``parking reconcile --date D`` for each day: the lines of every day that is not clean
    (an exit code other than 0, or no "all consistent")."""
    problems: list[str] = []
    for day in days:
        done = subprocess.run(
            [PARKING, "reconcile", "--date", day.isoformat()],
            env={**env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip
        if done.returncode != 0 or "all consistent" not in done.stdout:
            lines = [
                line.strip()
                for line in (done.stdout + done.stderr).splitlines()
                if line.strip() and not line.startswith(("┏", "┃", "┡", "│", "└", "━"))
            ]
            problems.append(f"{day}: exit {done.returncode}: " + " | ".join(lines[-12:]))
    return tuple(problems)
