"""Fault drills on the real thing (issue 12): a private PostgreSQL cluster, a private Mosquitto
from ``parking mqtt config``, ``parking serve`` and ``parking worker`` as processes, the mock tax
authority, and two gates that keep every event until its decision arrives.

One rig for the module (setting it up costs half a minute); cars carry over from drill to drill,
and after each drill the whole run so far must keep every promise (:mod:`tests.faults.checks`):
each event answered once, one debit per paid exit, the trial balance zero, one accepted invoice
per debit, gapless numbers, ``parking reconcile`` clean.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from tests.faults import drills
from tests.faults.checks import check_run
from tests.faults.rig import FaultRig, Traffic, fault_rig

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultRig]:
    with fault_rig(tmp_path_factory.mktemp("faults")) as r:
        yield r


@pytest.fixture(scope="module")
def traffic(rig: FaultRig) -> Traffic:
    t = Traffic(rig)
    t.fill(4)
    return t


def kept_every_promise(rig: FaultRig, traffic: Traffic, drill: drills.Drill) -> drills.Outcome:
    outcome = drills.settle(rig, traffic, drill, timeout=90)
    report = outcome.report
    assert report.ok, f"{drill.fault}: {report.problems}"
    assert report.events == len(traffic.sent) and report.decisions == report.events
    return outcome


def test_gateway_killed_mid_stream_loses_no_event(rig: FaultRig, traffic: Traffic) -> None:
    drill = drills.gateway_killed(rig, traffic)
    assert drill.sent_while_down > 0, "no event was sent while the gateway was down"
    kept_every_promise(rig, traffic, drill)


def test_database_restart_while_gates_publish(rig: FaultRig, traffic: Traffic) -> None:
    drill = drills.database_restarted(rig, traffic)
    assert drill.sent_while_down > 0
    kept_every_promise(rig, traffic, drill)
    assert rig.gateway.alive and rig.worker.alive  # they waited for the database, not died


def test_broker_restart_while_gates_publish(rig: FaultRig, traffic: Traffic) -> None:
    drill = drills.broker_restarted(rig, traffic)
    assert drill.sent_while_down > 0
    kept_every_promise(rig, traffic, drill)


def test_broker_killed_while_gates_publish(rig: FaultRig, traffic: Traffic) -> None:
    drill = drills.broker_killed(rig, traffic)
    assert drill.sent_while_down > 0
    kept_every_promise(rig, traffic, drill)


def test_tax_authority_fails_then_recovers(rig: FaultRig, traffic: Traffic) -> None:
    drill = drills.tax_authority_down(rig, traffic)
    outcome = kept_every_promise(rig, traffic, drill)
    assert outcome.report.invoices > 0


def test_invoice_worker_killed_mid_issuing(rig: FaultRig, traffic: Traffic) -> None:
    drill = drills.worker_killed(rig, traffic)
    kept_every_promise(rig, traffic, drill)


def test_entry_gate_offline_its_late_entries_open_no_ghost_session(
    rig: FaultRig, traffic: Traffic
) -> None:
    from billing.adapters import orm
    from gateway.db import make_engine

    drill = drills.entry_gate_offline(rig, traffic, cars=3)
    kept_every_promise(rig, traffic, drill)  # ghost_sessions == 0 among the promises
    entries = [s for s in traffic.sent[-6:] if s.direction == "entry"]
    engine = make_engine(rig.database_url)
    try:
        with engine.connect() as conn:
            reasons = [
                conn.scalar(select(orm.Passage.reason).where(orm.Passage.event_id == e.event_id))
                for e in entries
            ]
    finally:
        engine.dispose()
    assert reasons == ["late_entry"] * 3


def test_storm_of_50_copies_of_one_event(rig: FaultRig, traffic: Traffic) -> None:
    from billing.adapters import orm
    from gateway.db import make_engine

    drill = drills.storm(rig, traffic, copies=50)
    kept_every_promise(rig, traffic, drill)
    exit_ = traffic.sent[-1]
    decision = exit_.lane.decision(exit_.event_id)
    assert decision is not None and decision.open and decision.fare_vnd
    engine = make_engine(rig.database_url)
    try:
        with engine.connect() as conn:
            for model in (orm.Passage, orm.JournalEntry):
                n = conn.scalar(
                    select(func.count()).select_from(model).where(model.event_id == exit_.event_id)
                )
                assert n == 1, model.__name__
    finally:
        engine.dispose()


def test_parking_reconcile_says_all_consistent_after_every_drill(
    rig: FaultRig, traffic: Traffic
) -> None:
    """The command an operator runs, after all the drills above (each checked in-process)."""
    report = check_run(rig.database_url, traffic.answers(), env=rig.env, cli=True)
    assert report.ok, report.problems
