"""The fault drills of issue 12, each a function of the rig: cars stream through the lanes while
one part of the system fails, then it comes back. The tests run one drill each and check the
promises (:mod:`tests.faults.checks`); ``bench/faults.py`` runs them all against 8 gates and
quotes the figures. A drill returns when the part is back; :func:`settle` then waits for every
answer and invoice.

``recovery_s`` is measured from the moment the failed part is back (restarted, reachable) until
every event sent so far is answered, and, for the invoicing faults, every fare's invoice is
accepted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from sqlalchemy import func, select

from gateway.protocol import encode_event
from tests.faults.checks import FaultReport, check_run
from tests.faults.rig import FaultRig, Sent, Traffic, wait_until


@dataclass(frozen=True)
class Drill:
    fault: str
    sent: int  # events the gates sent during the drill
    sent_while_down: int  # of which while the part was down
    down_s: float
    healed_at: float  # time.monotonic() when the part was back


@dataclass(frozen=True)
class Outcome:
    drill: Drill
    recovery_s: float
    report: FaultReport


def _during_outage(
    rig: FaultRig,
    traffic: Traffic,
    fault: str,
    *,
    cars: int,
    pace_s: float,
    fail: Callable[[], None],
    heal: Callable[[], None],
    down_s: float,
    lead_s: float = 1.0,
) -> Drill:
    """Cars stream; ``lead_s`` in, ``fail()``; ``down_s`` later (cars still coming), ``heal()``."""
    before = len(traffic.sent)
    with traffic.streaming(cars, pace_s):
        time.sleep(lead_s)
        at_fail = len(traffic.sent)
        failed = time.monotonic()
        fail()
        time.sleep(down_s)
        at_heal = len(traffic.sent)
        heal()
        healed = time.monotonic()
    return Drill(
        fault,
        len(traffic.sent) - before,
        at_heal - at_fail,
        round(healed - failed, 2),
        healed,
    )


def gateway_killed(
    rig: FaultRig, traffic: Traffic, *, cars: int = 8, pace_s: float = 0.25
) -> Drill:
    """``kill -9`` of ``parking serve`` mid-stream; a new one started (its start is the outage)."""
    return _during_outage(
        rig, traffic, "gateway_kill9", cars=cars, pace_s=pace_s,
        fail=rig.gateway.kill, heal=rig.gateway.start, down_s=0.5,
    )  # fmt: skip


def database_restarted(
    rig: FaultRig, traffic: Traffic, *, cars: int = 8, pace_s: float = 0.25, down_s: float = 2.0
) -> Drill:
    """PostgreSQL stopped (``immediate``: a crash, recovery at start) and started again."""
    return _during_outage(
        rig, traffic, "database_restart", cars=cars, pace_s=pace_s,
        fail=lambda: rig.pg.stop("immediate"), heal=rig.pg.start, down_s=down_s,
    )  # fmt: skip


def broker_restarted(
    rig: FaultRig, traffic: Traffic, *, cars: int = 8, pace_s: float = 0.25, down_s: float = 1.5
) -> Drill:
    """Mosquitto stopped cleanly (it saves its store) and started again while gates publish."""
    return _during_outage(
        rig, traffic, "broker_restart", cars=cars, pace_s=pace_s,
        fail=rig.broker.stop, heal=rig.broker.start, down_s=down_s,
    )  # fmt: skip


def broker_killed(
    rig: FaultRig, traffic: Traffic, *, cars: int = 8, pace_s: float = 0.25, down_s: float = 1.0
) -> Drill:
    """``kill -9`` of Mosquitto while gates publish: what it acknowledged since its last
    autosave is gone, and only the gates' resending brings it back."""
    return _during_outage(
        rig, traffic, "broker_kill9", cars=cars, pace_s=pace_s,
        fail=rig.broker.kill, heal=rig.broker.start, down_s=down_s,
    )  # fmt: skip


def tax_authority_down(
    rig: FaultRig, traffic: Traffic, *, cars: int = 6, pace_s: float = 0.25, timeout: float = 60
) -> Drill:
    """The tax authority refuses connections while paid exits are invoiced; it comes back
    after the submitter has failed at least once."""
    before = len(traffic.sent)
    failed = time.monotonic()
    traffic.stock(cars)
    rig.tax.stop()
    try:
        traffic.stream(cars, pace_s)
        wait_until(lambda: _failed_submissions(rig) > 0, timeout, "a submission failed")
        sent_while_down = len(traffic.sent) - before
    finally:
        rig.tax.start()
    healed = time.monotonic()
    return Drill(
        "tax_authority_outage", sent_while_down, sent_while_down, round(healed - failed, 2), healed
    )


def worker_killed(
    rig: FaultRig, traffic: Traffic, *, cars: int = 8, pace_s: float = 0.2, timeout: float = 60
) -> Drill:
    """``kill -9`` of ``parking worker`` once it has issued part of the stream's invoices."""
    start_invoices = _invoices(rig)
    before = len(traffic.sent)
    with traffic.streaming(cars, pace_s):
        wait_until(lambda: _invoices(rig) > start_invoices, timeout, "the worker issuing")
        failed = time.monotonic()
        rig.worker.kill()
        at_fail = len(traffic.sent)
    time.sleep(0.5)
    rig.worker.start()
    healed = time.monotonic()
    return Drill(
        "invoice_worker_kill9",
        len(traffic.sent) - before,
        len(traffic.sent) - at_fail,
        round(healed - failed, 2),
        healed,
    )


def entry_gate_offline(rig: FaultRig, traffic: Traffic, *, cars: int = 3) -> Drill:
    """An entry lane loses its link while cars come in (its barrier raised by hand); they leave
    through an exit lane before the link is back. Billing hears of their exits first (exits
    without an entry), then of their entries when the lane resends them: those must not open
    sessions for cars that have gone."""
    lane = next(
        ln
        for (lot, _g), ln in rig.lanes.items()
        if lot == rig.lots[0] and ln.cfg.direction == "entry"
    )
    traffic.stock(cars)
    before = len(traffic.sent)
    failed = time.monotonic()
    lane.go_offline()
    try:
        entries = [traffic.enter(traffic.next_car(), lane) for _ in range(cars)]
        exits = [traffic.leave(e) for e in entries]
        wait_until(lambda: all(x.lane.decision(x.event_id) for x in exits), 60, "the exits decided")
    finally:
        lane.go_online()
    healed = time.monotonic()
    return Drill(
        "entry_gate_offline", len(traffic.sent) - before, cars, round(healed - failed, 2), healed
    )


def storm(rig: FaultRig, traffic: Traffic, *, copies: int = 50) -> Drill:
    """One paid exit, and ``copies`` - 1 more copies of its event at once (a gate resending
    like mad): one passage, one debit, one invoice, and every copy answered."""
    parked = traffic.parked() or [_parked_car(traffic)]
    before_dups = gateway_metric(rig, "parking_duplicate_events_total")
    exit_ = traffic.leave(parked[0])
    payload = encode_event(exit_.event)  # the same bytes, the same event id
    started = time.monotonic()
    threads = [
        threading.Thread(target=exit_.lane.publish_raw, args=(payload, exit_.event_id))
        for _ in range(copies - 1)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # every copy reaches the gateway and is answered from what billing decided, never settled
    wait_until(
        lambda: gateway_metric(rig, "parking_duplicate_events_total") - before_dups >= copies - 1,
        60,
        f"{copies - 1} copies seen as copies",
    )
    return Drill("storm_50_copies", copies, copies, 0.0, started)


def _parked_car(traffic: Traffic) -> Sent:
    traffic.fill(1)
    return traffic.parked()[0]


def gateway_metric(rig: FaultRig, name: str) -> float:
    """One sample of ``parking serve``'s /metrics, summed over its labels."""
    from prometheus_client.parser import text_string_to_metric_families

    port = int(rig.env["PARKING_HTTP_PORT"])
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name == name
    )


def _count(rig: FaultRig, stmt: object) -> int:
    from gateway.db import make_engine

    engine = make_engine(rig.database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(stmt).scalar() or 0)  # type: ignore[call-overload]
    finally:
        engine.dispose()


def _invoices(rig: FaultRig) -> int:
    from einvoice.db import invoices

    return _count(rig, select(func.count()).select_from(invoices))


def _failed_submissions(rig: FaultRig) -> int:
    from einvoice.db import invoices

    return _count(
        rig,
        select(func.count())
        .select_from(invoices)
        .where(invoices.c.submit_attempts > 0, invoices.c.status != "accepted"),
    )


def settle(rig: FaultRig, traffic: Traffic, drill: Drill, *, timeout: float = 90) -> Outcome:
    """Wait until every event is answered and every fare's invoice accepted (or ``timeout``),
    then check the run; ``recovery_s`` counts from when the part was back."""
    deadline = time.monotonic() + timeout
    while traffic.unanswered() and time.monotonic() < deadline:
        time.sleep(0.1)
    while time.monotonic() < deadline:
        report = check_run(rig.database_url, traffic.answers(), env=rig.env, reconcile=False)
        if not (report.invoices_missing or report.invoices_not_accepted or report.unanswered):
            break
        time.sleep(0.5)
    recovered = time.monotonic()
    report = check_run(rig.database_url, traffic.answers(), env=rig.env)
    return Outcome(drill, round(max(0.0, recovered - drill.healed_at), 2), report)
