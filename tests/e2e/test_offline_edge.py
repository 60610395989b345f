"""Degraded mode end to end: real PostgreSQL billing, the machine's Mosquitto, the gateway's
consumer publishing the signed allow-list, an edge process with lpr's reader, and a pymodbus I/O
module driving the exit barrier.

The gateway is stopped: allow-listed cars still pass (the edge reads the plate and decides),
unknown ones do not, an exit opens only while the plate's offline credit covers the lot's
maximum fare. The gateway back: every offline event is settled exactly once, billing honours
the open barriers (overdrawing down to the granted credit, the rest to review), reconciliation
lists the exposure, and the late central answers move no barrier.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import func, select

from billing.adapters import orm
from billing.adapters.uow import UnitOfWork
from billing.services import set_lot_policy
from billing.services.offline import offline_exposure
from edge.config import parse_config
from edge.io.build import build_io
from edge.lane import Lane
from edge.run import EdgeProcess, default_reader
from gateway.allowlist import public_key
from gateway.protocol import allowlist_topic
from simulator.cameras import SyntheticCamera
from tests.e2e.passage_stack import PLATE, PassageStack, passage_stack, wait_until
from tests.integration.edge.modbus_server import IoModule, modbus_server

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

BARRIER_COIL = 16
CUONG = "30G-999.99"  # 10,000 VND
TRUCKS = "30E-246.80"  # the logistics company, 5,000,000 VND
UNKNOWN = "51G-888.88"


@contextmanager
def edge_for(stack: PassageStack, module: IoModule) -> Iterator[EdgeProcess]:
    """The lot's edge: entry on simulated I/O, exit barrier on the Modbus module's coil 16."""
    loop = {"kind": "loop", "input": {"device": "sim", "address": 0}}
    camera = {"kind": "folder", "path": str(stack.tmp)}
    config = parse_config(
        {
            "lot_id": stack.lot,
            "data_dir": str(stack.tmp / "edge"),
            "broker": {"host": stack.mqtt[0], "port": stack.mqtt[1]},
            "devices": {
                "sim": {"kind": "memory"},
                "adam": {"kind": "modbus", "host": "127.0.0.1", "port": module.port},
            },
            "lanes": [
                {
                    "gate_id": stack.entry_gate,
                    "direction": "entry",
                    "username": "gate-in",
                    "password": "x",
                    "camera": camera,
                    "trigger": loop,
                    "barrier": {"open": {"device": "sim", "address": 16}},
                },
                {
                    "gate_id": stack.exit_gate,
                    "direction": "exit",
                    "username": "gate-out",
                    "password": "x",
                    "camera": camera,
                    "trigger": loop,
                    "barrier": {
                        "open": {"device": "adam", "address": BARRIER_COIL},
                        "pulse_s": 0.2,
                        "poll_s": 0.02,
                    },
                },
            ],
            "offline": {
                "decide_after_s": 1.5,
                "allowlist_public_key": public_key(stack.container.settings),
            },
        }
    )
    io = build_io(config)
    for lane in io.lanes.values():
        lane.camera = SyntheticCamera(seed=7, hard_share=0)  # draws the plate named
    edge = EdgeProcess(config, io=io, read=default_reader(config))
    for runner in edge.runners.values():
        runner.camera_text = True  # the gateway runs without readers here: the camera's text
    edge.start(triggers=False, wait_s=10)
    try:
        yield edge
    finally:
        edge.stop()


def clear_retained(mqtt_at: tuple[str, int], lot: str) -> None:
    """The lot's retained allow-list leaves the shared broker with the test (once the
    gateway that republishes it has stopped)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    client.connect(*mqtt_at)
    client.loop_start()
    client.publish(allowlist_topic(lot), b"", qos=1, retain=True).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def all_answered(lane: Lane) -> bool:
    return not lane.unanswered()


def passages(stack: PassageStack, event_id: str) -> int:
    return stack.count(orm.Passage, event_id=event_id)


def debits(stack: PassageStack, event_id: str) -> int:
    with stack.container.session_factory() as s:
        n = s.scalar(
            select(func.count())
            .select_from(orm.JournalEntry)
            .where(orm.JournalEntry.event_id == event_id, orm.JournalEntry.kind == "fare")
        )
    return int(n or 0)


def test_gateway_down_allowlisted_cars_pass_and_everything_settles_once_after(
    pg_url: str, mosquitto: tuple[str, int], tmp_path: Path
) -> None:
    lots: list[str] = []
    try:
        with (
            passage_stack(
                pg_url, mosquitto, tmp_path, read_plates=False, allowlist_refresh_s=1
            ) as st,
            modbus_server() as module,
        ):
            lots.append(st.lot)
            set_lot_policy(
                st.container.uow_factory(),
                st.lot,
                offline_credit_cap_vnd=1_000_000,
                offline_max_fare_vnd=10_000,
            )
            with edge_for(st, module) as edge:
                entry, exit_ = edge.runners[st.entry_gate], edge.runners[st.exit_gate]
                two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
                # Online: the center decides.
                for plate in (PLATE, CUONG):
                    seen = entry.vehicle(plate, captured_at=two_hours_ago)
                    assert seen is not None and seen.decided_by == "center" and seen.open
                store = edge.store
                assert store is not None
                wait_until(
                    lambda: store.current is not None and store.current.max_fare_vnd == 10_000,
                    20,
                    "the signed allow-list with the lot's policy",
                )
                assert store.current is not None and store.current.credit("30G99999") == 10_000
                pulses_before = len(module.pulses(BARRIER_COIL))

                st.consumer.stop()  # the gateway is down; the broker and the database are not
                ours = {
                    TRUCKS: entry.vehicle(TRUCKS),
                    UNKNOWN: entry.vehicle(UNKNOWN),
                    "an-out": exit_.vehicle(PLATE),
                    "cuong-out": exit_.vehicle(CUONG),
                }
                got = {k: (p.decided_by, p.open, p.reason) for k, p in ours.items() if p}
                assert got == {
                    TRUCKS: ("offline", True, "allowlisted"),
                    UNKNOWN: ("offline", False, "not_allowlisted"),
                    "an-out": ("offline", True, "credit_covers"),
                    "cuong-out": ("offline", True, "credit_covers"),  # 10,000 covers 10,000
                }
                assert all(p is not None and p.waited_s < 10 for p in ours.values())
                wait_until(lambda: len(module.pulses(BARRIER_COIL)) >= pulses_before + 2, 10)
                m = edge.metrics
                decided = m.count(
                    "edge_offline_decisions",
                    lane=st.entry_gate,
                    outcome="open",
                    reason="allowlisted",
                )
                assert decided == 1
                assert m.gauge("edge_offline_exposure_vnd") == 20_000
                assert (m.gauge("edge_allowlist_age_seconds") or -1) >= 0

                st.restart_consumer()  # the gateway is back
                ids = {k: p.event_id for k, p in ours.items() if p is not None}
                offline_ids = list(ids.values())
                for lane in edge.lanes.values():
                    wait_until(partial(all_answered, lane), 60, "every event answered")
                for event_id in offline_ids:
                    assert passages(st, event_id) == 1
                assert debits(st, ids["an-out"]) == 1
                assert debits(st, ids["cuong-out"]) == 0  # beyond the credit: review
                with st.container.session_factory() as s:
                    opened = {
                        r.event_id: (r.opened, r.reason)
                        for r in s.execute(
                            select(
                                orm.Passage.event_id, orm.Passage.opened, orm.Passage.reason
                            ).where(orm.Passage.event_id.in_(offline_ids))
                        )
                    }
                assert opened[ids[TRUCKS]] == (True, "entry_ok")
                assert opened[ids["an-out"]] == (True, "exit_paid")
                assert opened[ids["cuong-out"]] == (True, "low_balance")
                assert opened[ids[UNKNOWN]][0] is False
                [day] = offline_exposure(UnitOfWork(st.container.session_factory), lot_id=st.lot)
                assert (day.decisions, day.opened, day.to_review) == (4, 3, 1)
                assert day.exposure_vnd >= 40_000  # Cường's 2-hour car fare, unpaid
                # The late central answers moved no barrier: two online entries, three offline.
                wait_until(lambda: edge.ledger.exposure_vnd() == 0, 10, "exposure settled")
                assert (
                    sum(
                        m.count("edge_barrier_opens", lane=g, reason="offline")
                        for g in (st.entry_gate, st.exit_gate)
                    )
                    == 3
                )
                assert (
                    m.count("edge_barrier_opens", lane=st.entry_gate, reason="central")
                    + m.count("edge_barrier_opens", lane=st.exit_gate, reason="central")
                    == 2
                )
    finally:
        for lot in lots:
            clear_retained(mosquitto, lot)
