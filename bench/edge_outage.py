"""Traffic through a lot's edge with the gateway stopped mid-run (bench/edge.py ``--outage``).

One edge process (``edge.run.EdgeProcess``) serves ``gates`` lanes of one lot, half entries and
half exits, with lpr's reader, on the machine's Mosquitto; the gateway's consumer settles into a
PostgreSQL database of the bench's own, and publishes the lot's signed allow-list. Cars arrive
at every lane at random (synthetic camera frames of their plates; 90% registered, 10% unknown;
a fifth of the accounts hold just over the lot's maximum fare). In the middle of the run the
consumer is stopped for ``outage_s`` seconds, then started again. Afterwards the bench waits
until every event has its decision and reports:

- ``passages``: vehicles captured;
- ``opened_without_person``: of the allow-listed cars that came during the outage (entries on
  the list, exits whose credit covered the maximum fare), the share the edge let through alone;
- ``unknown_kept_closed``: the share of unknown plates the edge kept closed during the outage;
- ``settled_after_recovery``: of the events decided offline, the share billing settled, each
  exactly once;
- ``double_charges``: events (or sessions) with more than one fare debit;
- ``exposure_vnd``: reconciliation's offline exposure of the lot.

Traffic only to 127.0.0.1; everything it starts is stopped and its database dropped.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text

log = logging.getLogger("bench.edge_outage")

MAX_FARE_VND = 50_000
CAP_VND = 1_000_000


@dataclass
class Seen:
    plate: str
    direction: str
    allowlisted: bool
    covered: bool  # exit: its credit covers the maximum fare
    during_outage: bool
    decided_by: str = ""
    opened: bool = False
    event_id: str = ""


@dataclass
class Fleet:
    """Registered plates (plate -> balance) and unknown ones; who is inside."""

    balances: dict[str, int]
    unknown: list[str]
    inside: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _plates(n: int, rng: random.Random, taken: set[str]) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        prov, series = rng.choice(["30", "29", "51", "43"]), rng.choice("ABCEFGH")
        p = f"{prov}{series}-{rng.randrange(100, 999)}.{rng.randrange(10, 99)}"
        if p not in taken:
            taken.add(p)
            out.append(p)
    return out


@contextmanager
def bench_database(admin_url: str) -> Iterator[str]:
    name = f"bench_edge_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _seed(container: Any, lot: str, gates: int, rng: random.Random) -> tuple[list, list, Fleet]:
    from billing.domain.model import Owner, OwnerKind
    from billing.services import add_gate, create_lot, seed_demo, set_lot_policy
    from billing.services.accounts import add_vehicle, create_account
    from billing.services.credits import manual_credit

    uow = container.uow_factory
    data = seed_demo(uow())
    create_lot(uow(), lot, f"Bench {lot}", data.operator_id, "hn-central")
    set_lot_policy(
        uow(),
        lot,
        offline_credit_cap_vnd=CAP_VND,
        offline_max_fare_vnd=MAX_FARE_VND,
        low_balance="overdraft",
        overdraft_limit_vnd=100_000,
    )
    entries = [add_gate(uow(), f"{lot}-in{i}", lot, "entry") for i in range(gates // 2)]
    exits = [add_gate(uow(), f"{lot}-out{i}", lot, "exit") for i in range(gates - gates // 2)]
    taken: set[str] = set()
    registered = _plates(80, rng, taken)
    balances: dict[str, int] = {}
    for i, plate in enumerate(registered):
        acct = create_account(uow(), Owner(OwnerKind.PERSON, f"Bench driver {i}"))
        add_vehicle(uow(), acct, plate, "car_le9")
        balance = 60_000 if i % 5 == 0 else 2_000_000  # a fifth hold just over the max fare
        manual_credit(uow(), acct, balance, key=f"bench-{i}", actor="bench", reason="opening")
        balances[plate] = balance
    return entries, exits, Fleet(balances, _plates(15, rng, taken))


def run(
    minutes: float, gates: int, outage_s: float, admin_url: str, mqtt: tuple[str, int], work: Path
) -> dict[str, Any]:
    from gateway import migrate
    from gateway.bootstrap import build
    from gateway.settings import Settings

    lot = f"bench{uuid.uuid4().hex[:8]}"
    with bench_database(admin_url) as url:
        migrate.upgrade(url)
        settings = Settings(
            data_dir=work / "gateway",
            database_url=url,
            mqtt_host=mqtt[0],
            mqtt_port=mqtt[1],
            mqtt_client_id=f"gw-{lot}",
            mqtt_share_group=f"g-{lot}",
            allowlist_refresh_s=5,
        )
        container = build(settings)
        try:
            entries, exits, fleet = _seed(container, lot, gates, random.Random(5))
            seen, unanswered = _drive(
                container, lot, entries, exits, fleet, mqtt, work, minutes * 60, outage_s
            )
            figures = _billing_figures(container, lot, seen)
        finally:
            container.close()
    return _summary(seen, figures, unanswered) | {
        "gates": gates,
        "minutes": minutes,
        "outage_s": outage_s,
    }


def _edge(settings: Any, lot: str, lanes: dict[str, str], mqtt: tuple[str, int], work: Path) -> Any:
    """The lot's edge process: ``lanes`` (gate -> direction) on simulated I/O, synthetic
    cameras that draw the plate they are given, lpr's reader."""
    from edge.config import parse_config
    from edge.io.build import build_io
    from edge.run import EdgeProcess, default_reader
    from gateway.allowlist import public_key
    from simulator.cameras import SyntheticCamera

    loop = {"kind": "loop", "input": {"device": "sim", "address": 0}}
    config = parse_config(
        {
            "lot_id": lot,
            "data_dir": str(work / "edge"),
            "broker": {"host": mqtt[0], "port": mqtt[1]},
            "devices": {"sim": {"kind": "memory"}},
            "lanes": [
                {
                    "gate_id": gate,
                    "direction": direction,
                    "username": f"gate-{gate}",
                    "password": "x",
                    "camera": {"kind": "folder", "path": str(work)},
                    "trigger": loop,
                    "barrier": {"open": {"device": "sim", "address": 16}},
                }
                for gate, direction in lanes.items()
            ],
            "offline": {"allowlist_public_key": public_key(settings)},
        }
    )
    io = build_io(config)
    for i, lane_io in enumerate(io.lanes.values()):
        lane_io.camera = SyntheticCamera(seed=100 + i)
    edge = EdgeProcess(config, io=io, read=default_reader(config))
    for runner in edge.runners.values():
        runner.camera_text = True  # the gateway runs without readers: the camera's text
    return edge


def _drive(
    container: Any,
    lot: str,
    entries: list[str],
    exits: list[str],
    fleet: Fleet,
    mqtt: tuple[str, int],
    work: Path,
    total_s: float,
    outage_s: float,
) -> tuple[list[Seen], int]:
    """The traffic, with the gateway's consumer stopped for ``outage_s`` in the middle; then
    wait (at most 5 minutes) for every event's decision. Returns what was seen and how many
    events were still unanswered."""
    from gateway.bootstrap import build_consumer
    from gateway.demo import ConsumerThread

    def consumer() -> ConsumerThread:
        c = ConsumerThread(build_consumer(container, read_plates=False, lot_filter=lot))
        c.start()
        return c

    running = consumer()
    lanes = {g: "entry" for g in entries} | {g: "exit" for g in exits}
    edge = _edge(container.settings, lot, lanes, mqtt, work)
    edge.start(triggers=False, wait_s=15)
    seen: list[Seen] = []
    outage = {"down": False}
    stop = threading.Event()
    rng = random.Random(7)
    try:
        deadline = time.monotonic() + 60
        while edge.store.current is None and time.monotonic() < deadline:
            time.sleep(0.2)
        threads = [
            threading.Thread(
                target=_traffic,
                args=(
                    edge.runners[g],
                    g in entries,
                    fleet,
                    seen,
                    outage,
                    stop,
                    rng.random(),
                    partial(_eligible, edge),
                ),
                daemon=True,
            )
            for g in lanes
        ]
        for t in threads:
            t.start()
        quiet = max(0.0, (total_s - outage_s) / 2)
        stop.wait(quiet)
        running.stop()
        outage["down"] = True
        log.warning("gateway stopped for %.0f s", outage_s)
        stop.wait(outage_s)
        outage["down"] = False
        running = consumer()
        log.warning("gateway back")
        stop.wait(max(0.0, total_s - quiet - outage_s))
        stop.set()
        for t in threads:
            t.join(30)
        deadline = time.monotonic() + 300
        while any(ln.unanswered() for ln in edge.lanes.values()) and time.monotonic() < deadline:
            time.sleep(0.5)
        return seen, sum(len(ln.unanswered()) for ln in edge.lanes.values())
    finally:
        stop.set()
        edge.stop()
        running.stop()
        _clear_retained(mqtt, lot)


def _clear_retained(mqtt: tuple[str, int], lot: str) -> None:
    """The lot's retained allow-list leaves the shared broker with the bench."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from gateway.protocol import allowlist_topic

    client = paho.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    client.connect(*mqtt)
    client.loop_start()
    client.publish(allowlist_topic(lot), b"", qos=1, retain=True).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def _billing_figures(container: Any, lot: str, seen: list[Seen]) -> dict[str, Any]:
    from billing.adapters import orm
    from billing.adapters.uow import UnitOfWork
    from billing.services.offline import offline_exposure

    offline_ids = [s.event_id for s in seen if s.decided_by == "offline"]
    j, p, sess = orm.JournalEntry, orm.Passage, orm.ParkingSession
    with container.session_factory() as session:
        settled = dict(
            session.execute(
                select(p.event_id, func.count())
                .where(p.event_id.in_(offline_ids))
                .group_by(p.event_id)
            ).all()
        )
        per_event = (
            select(j.event_id)
            .where(j.kind == "fare", j.lot_id == lot)
            .group_by(j.event_id)
            .having(func.count() > 1)
        )
        per_session = (
            select(sess.id)
            .join(p, p.session_id == sess.id)
            .join(j, j.event_id == p.event_id)
            .where(sess.lot_id == lot, j.kind == "fare")
            .group_by(sess.id)
            .having(func.count(func.distinct(j.id)) > 1)
        )
        doubles = session.scalar(select(func.count()).select_from(per_event.subquery()))
        twice = session.scalar(select(func.count()).select_from(per_session.subquery()))
    exposure = offline_exposure(UnitOfWork(container.session_factory), lot_id=lot)
    return {
        "offline_ids": offline_ids,
        "settled_once": sum(1 for e in offline_ids if settled.get(e) == 1),
        "double_charges": int(doubles or 0) + int(twice or 0),
        "exposure_vnd": sum(e.exposure_vnd for e in exposure),
        "offline_to_review": sum(e.to_review for e in exposure),
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _summary(seen: list[Seen], figures: dict[str, Any], unanswered: int) -> dict[str, Any]:
    eligible = [s for s in seen if s.during_outage and s.allowlisted and s.covered]
    unknown = [s for s in seen if s.during_outage and not s.allowlisted]
    offline_ids = figures["offline_ids"]
    return {
        "passages": len(seen),
        "during_outage": sum(s.during_outage for s in seen),
        "decided_offline": len(offline_ids),
        "opened_without_person": _share(sum(s.opened for s in eligible), len(eligible)),
        "allowlisted_during_outage": len(eligible),
        "unknown_kept_closed": _share(sum(not s.opened for s in unknown), len(unknown)),
        "settled_after_recovery": _share(figures["settled_once"], len(offline_ids)),
        "unanswered_at_end": unanswered,
        "double_charges": figures["double_charges"],
        "exposure_vnd": figures["exposure_vnd"],
        "offline_to_review": figures["offline_to_review"],
    }


def _eligible(edge: Any, plate: str, is_entry: bool) -> tuple[bool, bool]:
    """(on the edge's allow-list, its remaining credit covers the maximum fare) right now."""
    from lpr.grammar import plate_key

    allowlist = edge.store.current if edge.store else None
    if allowlist is None:
        return False, False
    remaining = edge.ledger.remaining(allowlist, plate_key(plate))
    if remaining is None:
        return False, False
    return True, is_entry or remaining >= allowlist.max_fare_vnd


def _traffic(
    runner: Any,
    is_entry: bool,
    fleet: Fleet,
    seen: list[Seen],
    outage: dict[str, bool],
    stop: threading.Event,
    seed: float,
    eligible: Callable[[str, bool], tuple[bool, bool]],
) -> None:
    """One lane: a car every 4-10 s (entries: anyone outside; exits: someone inside)."""
    rng = random.Random(seed)
    while not stop.wait(rng.uniform(4, 10)):
        with fleet.lock:
            if is_entry:
                pool = [p for p in fleet.balances if p not in fleet.inside]
                plate = rng.choice(fleet.unknown) if rng.random() < 0.1 else rng.choice(pool)
                fleet.inside.add(plate)
            else:
                if not fleet.inside:
                    continue
                plate = rng.choice(sorted(fleet.inside))
                fleet.inside.discard(plate)
        down = outage["down"]
        entry_at = datetime.now(UTC) - timedelta(minutes=rng.uniform(60, 180))
        listed, covered = eligible(plate, is_entry)
        s = Seen(plate, "entry" if is_entry else "exit", listed, covered, down)
        passage = runner.vehicle(plate, captured_at=entry_at if is_entry else None)
        if passage is None:
            continue
        s.decided_by, s.opened, s.event_id = passage.decided_by, passage.open, passage.event_id
        s.during_outage = s.during_outage or passage.decided_by == "offline"
        with fleet.lock:
            seen.append(s)
            if not passage.open and not is_entry:
                fleet.inside.add(plate)  # still inside: tries again later
