"""Gate latency: gate event published -> barrier command received at the gate.

The full production path on this machine: gate agents (paho, QoS 1, each with its own
credentials) -> Mosquitto (a private one started with the production configuration from
``gateway.mosquitto_conf``: password file, ACLs, TCP_NODELAY; or ``--mqtt-port`` for a broker
already running, anonymous) -> the gateway consumer (plate reading in its process pool, billing's
settle_passage on a fresh PostgreSQL database on 127.0.0.1, the barrier command published from
the outbox after commit) -> Mosquitto -> the gate. Each gate sends Poisson arrivals at
``--rate`` passages per second; half the gates are entries, half exits (a single gate is an
entry). The traffic is what a lot sees: every entry is a registered car that is not inside;
every exit is a car that entered about four hours earlier (parked through billing before the
clock starts), so it is priced, debited and queues its invoice request. Each scenario has cars
of its own and plays on its own simulated day. Three modes:
``lpr`` (the gateway reads plates from 2 rendered 1280x720 JPEG frames per event), ``text``
(the camera sends plate text: the pipeline without reading) and ``edge`` (the gate box read the
plate: the event carries its n-best with probabilities, the rendered plate crop and a small
overview frame; ``--edge-doubtful`` of the reads are doubtful, which the gateway reads again from
the crop in its reader pool).

Column ``late``: events whose command had not arrived when the scenario's drain time ended (the
gateway still settles them afterwards; nothing is dropped, the queue just outgrew the window).

``--serve`` runs the gateway as its own ``parking serve`` process (production's topology) instead
of a consumer thread inside the bench, where it shares one interpreter (and its lock) with the
simulated gates' threads.

``--gateways N`` (N >= 2) runs N ``parking serve`` processes (bench/gateways.py) on one shared
subscription instead of the in-process consumer, and SIGKILLs the first one when half of each
scenario's events have been sent: the gates resend what it took with it (``--resend-after``),
the others answer. Each scenario then checks that nothing was lost (every event answered and
recorded once) and that every exit was debited at most once (``one_debit_per_exit``).

Bounded: ``--events`` per gate and ``--max-seconds`` per scenario; frames are rendered before the
clock starts. Usage::

    .venv/bin/python bench/gate_latency.py                 # 1, 10, 20 gates x (lpr, text)
    .venv/bin/python bench/gate_latency.py --gates 20 --modes lpr --json
    .venv/bin/python bench/gate_latency.py --gateways 2 --gates 10 --modes text
    .venv/bin/python bench/gate_latency.py --modes edge --gates 200 --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import cpu_use  # noqa: E402
from bench.gateways import GatewayProcesses  # noqa: E402
from billing.domain.decisions import PassageInput  # noqa: E402
from billing.domain.model import Owner, OwnerKind  # noqa: E402
from billing.services import (  # noqa: E402
    add_gate,
    add_vehicle,
    create_account,
    create_lot,
    seed_demo,
    settle_passage,
    top_up,
)
from edge.lane import Lane, LaneConfig  # noqa: E402
from gateway import migrate  # noqa: E402
from gateway.bootstrap import Container, build, build_consumer  # noqa: E402
from gateway.broker import embedded_broker  # noqa: E402
from gateway.demo import ConsumerThread  # noqa: E402
from gateway.mosquitto_conf import GateCredential, new_gate_credential  # noqa: E402
from gateway.protocol import EdgeHypothesis, EdgeRead  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from simulator.cameras import TinyCamera  # noqa: E402
from simulator.plates import random_spec, render_frame  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GOAL_P99_MS = 500.0
# issue 14: p99 <= 500 ms with this many gates at 0.5 passages/s each
GOAL_GATES = {"lpr": 40, "edge": 200}


DWELL = timedelta(hours=4)


@dataclass
class Scenario:
    gates: int
    mode: str  # lpr | text
    days_back: int  # the simulated day it plays on: captured times are this many days ago


def gate_ids(lot: str, gates: int) -> list[tuple[str, str]]:
    """(gate id, direction) of a scenario's gates: half entries, half exits."""
    return [(f"{lot}-s{gates}-g{i}", "entry" if i % 2 == 0 else "exit") for i in range(gates)]


def fresh_database() -> tuple[str, Any]:
    name = f"parking_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", drop


def population(container: Container, n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    plates: list[str] = []
    seen: set[str] = set()
    while len(plates) < n:
        spec = random_spec(rng, layout="long")
        if spec.text in seen:
            continue
        seen.add(spec.text)
        acct = create_account(
            container.uow_factory(), Owner(OwnerKind.PERSON, f"Bench {len(plates)}")
        )
        add_vehicle(container.uow_factory(), acct, spec.text, "car_le9")
        top_up(container.uow_factory(), acct, 5_000_000, "bench-bank", f"bench-{spec.text}")
        plates.append(spec.text)
    return plates


def render_crops(plates: list[str], seed: int) -> dict[str, bytes]:
    """The plate crop an edge box sends with its read: the plate alone, as a JPEG."""
    import cv2

    from simulator.plates import spec_from_text
    from simulator.plates.render import render_plate

    rng = np.random.default_rng(seed)
    out = {}
    for plate in plates:
        image = render_plate(spec_from_text(plate), rng, height=96).image
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            raise RuntimeError(f"could not encode the crop of {plate}")
        out[plate] = jpeg.tobytes()
    return out


def edge_read(plate: str, doubtful: bool) -> EdgeRead:
    """The box's read of ``plate``: sure, or doubtful between it and a look-alike."""
    if not doubtful:
        return EdgeRead(hypotheses=(EdgeHypothesis(text=plate, p=0.97),), confidence=0.96)
    last = plate[-1]
    other = plate[:-1] + ("8" if last != "8" else "6")  # one character off, as readers err
    return EdgeRead(
        hypotheses=(EdgeHypothesis(text=plate, p=0.55), EdgeHypothesis(text=other, p=0.4)),
        confidence=0.55,
        reader="bench",
    )


def render(plates: list[str], frames_per_event: int, seed: int) -> dict[str, list[bytes]]:
    from simulator.plates import spec_from_text

    rng = np.random.default_rng(seed)
    out = {}
    for plate in plates:
        spec = spec_from_text(plate)
        out[plate] = [
            render_frame(rng, spec, night=False, jpeg_quality=85).jpeg or b""
            for _ in range(frames_per_event)
        ]
    return out


def park(
    container: Container,
    lot: str,
    entry_gate: str,
    plates: list[str],
    shift: timedelta,
    rnd: random.Random,
) -> None:
    """The cars that will leave during the scenario entered about DWELL before it (untimed)."""
    now = datetime.now(UTC) - shift
    for plate in plates:
        at = now - DWELL - timedelta(minutes=rnd.uniform(0, 60))
        decision = settle_passage(
            container.uow_factory(),
            PassageInput(f"park-{uuid.uuid4().hex}", lot, entry_gate, "entry", at, plate, 0.99),
        )
        if not decision.open:
            raise RuntimeError(f"parking {plate} before the scenario failed: {decision}")


def _totals(histogram: Any, **labels: str) -> tuple[float, float]:
    """(sum, count) of a histogram's observations so far, read from its public samples."""
    total = count = 0.0
    for metric in histogram.collect():
        for sample in metric.samples:
            if sample.labels != labels:
                continue
            if sample.name.endswith("_sum"):
                total = sample.value
            elif sample.name.endswith("_count"):
                count = sample.value
    return total, count


def _mean_ms(before: tuple[float, float], after: tuple[float, float]) -> float | None:
    """The mean of the observations between two ``_totals`` readings, in milliseconds."""
    n = after[1] - before[1]
    return round(1000.0 * (after[0] - before[0]) / n, 1) if n else None


def run_scenario(
    sc: Scenario,
    container: Container,
    mqtt: tuple[str, int],
    plates: list[str],
    frames: dict[str, list[bytes]],
    crops: dict[str, bytes],
    args: argparse.Namespace,
    tmp: Path,
    lot: str,
    creds: dict[tuple[str, str], GateCredential],
    at_half: Callable[[], None] | None = None,
) -> dict[str, Any]:
    agents: list[Lane] = []
    for gate_id, direction in gate_ids(lot, sc.gates):
        gate = add_gate(container.uow_factory(), gate_id, lot, direction)
        cred = creds.get((lot, gate))
        agent = Lane(
            LaneConfig(
                lot,
                gate,
                direction,  # type: ignore[arg-type]
                tmp / f"{gate}.sqlite",
                host=mqtt[0],
                port=mqtt[1],
                username=cred.username if cred else None,
                password=cred.password if cred else None,
                resend_after_s=args.resend_after,
            ),
            TinyCamera(),
        )
        agent.start()
        agents.append(agent)
    rnd = random.Random(args.seed + sc.gates)
    schedule: list[tuple[float, Lane]] = []
    for agent in agents:
        t = 0.0
        for _ in range(args.events):
            t += rnd.expovariate(args.rate)
            schedule.append((t, agent))
    schedule.sort(key=lambda x: x[0])
    shift = timedelta(days=sc.days_back)
    exits = sum(1 for _, a in schedule if a.cfg.direction == "exit")
    if len(plates) < len(schedule):
        raise SystemExit(f"--plates: {len(schedule)} more cars needed for {sc.gates} gates")
    pool = rnd.sample(plates, len(schedule))
    parked, arriving = pool[:exits], pool[exits:]
    # parked through an entry lane of its own: its barrier commands reach no simulated gate
    park_gate = add_gate(container.uow_factory(), f"{lot}-s{sc.gates}-park", lot, "entry")
    park(container, lot, park_gate, parked, shift, rnd)
    hist = container.metrics.decision_seconds
    reads = container.metrics.plate_read_seconds
    decisions_before, reads_before = _totals(hist), _totals(reads, source="lpr")
    event_ids: list[tuple[Lane, str]] = []
    url = container.settings.database_url
    database = make_url(url).database if url else None
    cpu_before = cpu_use.snapshot(database)
    started = time.perf_counter()
    deadline = started + args.max_seconds
    half_at = schedule[len(schedule) // 2][0] if schedule else 0.0
    killed_at: float | None = None
    for at, agent in schedule:
        if at_half is not None and killed_at is None and at >= half_at:
            at_half()
            killed_at = time.perf_counter()
        delay = started + at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        if time.perf_counter() > deadline:
            break
        queue = arriving if agent.cfg.direction == "entry" else parked
        plate = queue.pop(rnd.randrange(len(queue)))
        captured_at = datetime.now(UTC) - shift
        if sc.mode == "edge":
            ev = agent.capture(
                plate,
                plate_crop=crops[plate],
                edge_read=edge_read(plate, rnd.random() < args.edge_doubtful),
                captured_at=captured_at,
            )
        elif sc.mode == "text":
            ev = agent.capture(
                plate,
                camera_text=True,
                plate_confidence=0.97,
                frames=frames[plate][:1],
                captured_at=captured_at,
            )
        else:
            ev = agent.capture(plate, frames=frames[plate], captured_at=captured_at)
        event_ids.append((agent, ev.event_id))
    wait_until = time.perf_counter() + args.drain_seconds
    while time.perf_counter() < wait_until:
        if all(eid in a.decisions for a, eid in event_ids):
            break
        time.sleep(0.05)
    offered_s = time.perf_counter() - started
    cpu = cpu_use.cpu_between(cpu_before, cpu_use.snapshot(database))
    n_events = max(1, len(event_ids))
    lat = [
        (a.decisions[eid].received_at - a.sent_at[eid]) * 1000.0
        for a, eid in event_ids
        if eid in a.decisions and eid in a.sent_at
    ]
    reasons: dict[str, int] = {}
    for a, eid in event_ids:
        if eid in a.decisions:
            r = a.decisions[eid].reason
            reasons[r] = reasons.get(r, 0) + 1
    for agent in agents:
        agent.stop()
    recorded = records(container, [eid for _, eid in event_ids])
    exit_ids = {eid for a, eid in event_ids if a.cfg.direction == "exit"}
    arr = np.array(lat) if lat else np.array([float("nan")])
    return {
        "gates": sc.gates,
        "mode": sc.mode,
        "rate_per_gate": args.rate,
        "events": len(event_ids),
        "answered": len(lat),
        "unanswered": len(event_ids) - len(lat),
        "p50_ms": round(float(np.percentile(arr, 50)), 1),
        "p95_ms": round(float(np.percentile(arr, 95)), 1),
        "p99_ms": round(float(np.percentile(arr, 99)), 1),
        "max_ms": round(float(np.max(arr)), 1),
        "wall_s": round(offered_s, 1),
        "gateways": args.gateways,
        "gateway_process": bool(args.serve or args.gateways > 1),
        # nothing lost: every event sent has its passage recorded, once (event ids are unique)
        "recorded": recorded.passages,
        "nothing_lost": recorded.passages == len(event_ids) == len(lat),
        "fare_debits": recorded.debits,
        "one_debit_per_exit": recorded.max_debits_per_event <= 1
        and recorded.debits <= len(exit_ids),
        # the gateway killed mid-run: events sent after the kill, and their slowest answer
        "killed_at_s": round(killed_at - started, 1) if killed_at is not None else None,
        "p99_after_kill_ms": _p99_after(event_ids, killed_at),
        "reasons": reasons,
        # Inside the gateway: event received -> decision committed, and plate reading alone.
        "gateway_decision_mean_ms": _mean_ms(decisions_before, _totals(hist)),
        "plate_read_mean_ms": _mean_ms(reads_before, _totals(reads, source="lpr")),
        # Where the CPU went while the events were offered and answered, per event and by
        # process group; and the cores that costs at the offered rate (gates x rate).
        "cpu_ms_per_event": {g: round(s * 1000 / n_events, 1) for g, s in cpu.items()},
        "cores_at_offered_rate": round(sum(cpu.values()) / n_events * sc.gates * args.rate, 2),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


@dataclass(frozen=True)
class Recorded:
    passages: int
    debits: int
    max_debits_per_event: int


def records(container: Container, event_ids: list[str]) -> Recorded:
    """What the database holds for these events: passages, fare debits, debits per event."""
    with container.session_factory() as s:
        passages = s.execute(
            text("SELECT count(*) FROM billing_passages WHERE event_id = ANY(:ids)"),
            {"ids": event_ids},
        ).scalar_one()
        per_event = [
            n
            for (n,) in s.execute(
                text(
                    "SELECT count(*) FROM billing_journal_entries WHERE kind = 'fare' "
                    "AND event_id = ANY(:ids) GROUP BY event_id"
                ),
                {"ids": event_ids},
            )
        ]
    return Recorded(int(passages), sum(per_event), max(per_event, default=0))


def _p99_after(event_ids: list[tuple[Lane, str]], since: float | None) -> float | None:
    """p99 of the answers to events first sent after ``since`` (perf_counter), in ms."""
    if since is None:
        return None
    lat = [
        (a.decisions[eid].received_at - a.sent_at[eid]) * 1000.0
        for a, eid in event_ids
        if eid in a.decisions and eid in a.sent_at and a.sent_at[eid] >= since
    ]
    return round(float(np.percentile(np.array(lat), 99)), 1) if lat else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--gates", type=int, nargs="+", default=[1, 10, 20])
    ap.add_argument("--modes", nargs="+", default=["lpr", "text"], choices=["lpr", "text", "edge"])
    ap.add_argument(
        "--edge-doubtful",
        type=float,
        default=0.1,
        help="edge mode: the share of edge reads that are doubtful (read again from the crop)",
    )
    ap.add_argument("--rate", type=float, default=0.5, help="passages per second per gate")
    ap.add_argument("--events", type=int, default=12, help="events per gate per scenario")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="offered load per scenario")
    ap.add_argument("--drain-seconds", type=float, default=60.0)
    ap.add_argument("--lpr-workers", type=int, default=2)
    ap.add_argument(
        "--plates",
        type=int,
        default=None,
        help="registered cars (default: as many as all scenarios have events)",
    )
    ap.add_argument("--frames", type=int, default=2, help="JPEG frames per event (lpr mode)")
    ap.add_argument(
        "--mqtt-port",
        type=int,
        default=None,
        help="use the (anonymous) broker already listening on this port of 127.0.0.1 instead "
        "of a private Mosquitto with the production configuration",
    )
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument(
        "--gateways",
        type=int,
        default=1,
        help="gateway processes on one shared subscription (>= 2: the first is killed mid-run)",
    )
    ap.add_argument(
        "--serve",
        action="store_true",
        help="run the one gateway as its own `parking serve` process, as in production, instead "
        "of a consumer thread inside this process (which shares its interpreter with the gates)",
    )
    ap.add_argument(
        "--session-expiry",
        type=int,
        default=10,
        help="--gateways: the gateways' MQTT session expiry, seconds (PARKING_MQTT_SESSION_EXPIRY_S"
        "): how long the broker keeps queueing a dead gateway's share of the events",
    )
    ap.add_argument(
        "--resend-after",
        type=float,
        default=LaneConfig.resend_after_s,
        help="the gates' first resend of an unanswered event, seconds",
    )
    ap.add_argument("--json", action="store_true", help="write bench/results/gate_latency.json")
    args = ap.parse_args()

    url, drop = fresh_database()
    tmp = Path(tempfile.mkdtemp(prefix="gate-latency-"))
    results: list[dict[str, Any]] = []
    # One lot per mode: the consumer listens to that lot only (other runs may share the broker).
    lots = {mode: f"bench{uuid.uuid4().hex[:8]}" for mode in args.modes}
    creds: dict[tuple[str, str], GateCredential] = {}
    service_password = secrets.token_urlsafe(18)
    tag = uuid.uuid4().hex[:8]
    # One gateway account per mode: the broker binds a client id to its account, and each
    # mode's consumer keeps an MQTT session of its own (see build_consumer below).
    gateway_user = {mode: f"bench-{tag}-{mode}" for mode in args.modes}
    # --gateways N: N processes (N accounts and client ids) per mode
    process_users = {
        mode: [f"bench-{tag}-{mode}-{k}" for k in range(args.gateways)] for mode in args.modes
    }
    all_users = [*gateway_user.values(), *(u for us in process_users.values() for u in us)]
    broker = None
    if args.mqtt_port is None:
        for lot in lots.values():
            for g in args.gates:
                creds.update(
                    {(lot, gid): new_gate_credential(lot, gid) for gid, _ in gate_ids(lot, g)}
                )
        broker = embedded_broker(
            tmp / "mosquitto",
            service_users=dict.fromkeys(all_users, service_password),
            gates=creds.values(),
            prefer="mosquitto",
        )
        broker.start()
    try:
        migrate.upgrade(url)
        mqtt = ("127.0.0.1", broker.port if broker else args.mqtt_port)
        settings = Settings(
            data_dir=tmp,
            database_url=url,
            mqtt_host=mqtt[0],
            mqtt_port=mqtt[1],
            mqtt_username=None,
            mqtt_password=service_password if broker else None,
            mqtt_client_id=f"bench-{tag}",
            mqtt_share_group=f"bench-{tag}",
            lpr_workers=args.lpr_workers,
            keep_images=False,
        )
        container = build(settings)
        operator = seed_demo(container.uow_factory()).operator_id
        args.plates = args.plates or sum(args.gates) * args.events
        print(f"population: {args.plates} registered cars ...", file=sys.stderr)
        plates = population(container, args.plates, args.seed)
        # lpr mode reads the frames; text mode sends the first as the passage's picture
        framed = {"lpr", "text"} & set(args.modes)
        frames = render(plates, args.frames, args.seed) if framed else {}
        crops = render_crops(plates, args.seed) if "edge" in args.modes else {}
        for mode in args.modes:
            lot = lots[mode]
            create_lot(container.uow_factory(), lot, f"Bench {lot}", operator, "hn-central")
            if broker is not None:
                container.settings = settings.model_copy(
                    update={"mqtt_username": gateway_user[mode]}
                )
            consumer: ConsumerThread | None = None
            gateways: GatewayProcesses | None = None
            at_half: Callable[[], None] | None = None
            if args.gateways > 1 or args.serve:
                if broker is None:
                    raise SystemExit("--gateways needs the private broker (no --mqtt-port)")
                gateways = GatewayProcesses(
                    [(u, service_password) for u in process_users[mode]],
                    {
                        "PARKING_DATABASE_URL": url,
                        "PARKING_MQTT_HOST": mqtt[0],
                        "PARKING_MQTT_PORT": str(mqtt[1]),
                        "PARKING_MQTT_SHARE_GROUP": f"bench-{tag}-{mode}",
                        "PARKING_MQTT_LOT_FILTER": lot,
                        "PARKING_LPR_WORKERS": str(args.lpr_workers),
                        "PARKING_KEEP_IMAGES": "false",
                        "PARKING_MQTT_SESSION_EXPIRY_S": str(args.session_expiry),
                    },
                    tmp / f"gateways-{mode}",
                    read_plates=(mode != "text"),
                )
                gateways.data_dir.mkdir(parents=True, exist_ok=True)
                print(f"starting {args.gateways} gateway processes ...", file=sys.stderr)
                gateways.start()

                def kill_first(g: GatewayProcesses = gateways) -> None:
                    if not g.killed:  # one kill per mode: the survivors serve the rest
                        print("killing gateway 0 (SIGKILL)", file=sys.stderr)
                        g.kill(0)

                at_half = kill_first if args.gateways > 1 else None
            else:
                consumer = ConsumerThread(
                    build_consumer(
                        container,
                        read_plates=(mode != "text"),
                        lot_filter=lot,
                        # Its own MQTT session per mode: events left over from a saturated
                        # scenario must not be redelivered into the next one's figures.
                        client_id=gateway_user[mode],
                    )
                )
                consumer.start()
            try:
                first = 0  # each scenario its own cars: none is still inside from the last one
                for k, g in enumerate(args.gates):
                    print(f"scenario: {g} gates, {mode} ...", file=sys.stderr)
                    cars = plates[first : first + g * args.events]
                    first += g * args.events
                    results.append(
                        run_scenario(
                            Scenario(g, mode, days_back=len(args.gates) - k),
                            container,
                            mqtt,
                            cars,
                            frames,
                            crops,
                            args,
                            tmp,
                            lot,
                            creds,
                            at_half,
                        )
                    )
            finally:
                if gateways is not None:
                    gateways.stop()
                if consumer is not None:
                    consumer.stop()
                if container.reader_pool is not None:
                    container.reader_pool.close()
                    container._closers.remove(container.reader_pool.close)
                    container.reader_pool = None
        container.close()
    finally:
        drop()
        if broker is not None:
            broker.stop()

    cols = ("p50 ms", "p95 ms", "p99 ms", "max ms")
    head = f"{'gates':>5} {'mode':>5} {'events':>6} {'late':>4} "
    print(head + " ".join(f"{c:>8}" for c in cols) + "  decisions")
    for r in results:
        print(
            f"{r['gates']:>5} {r['mode']:>5} {r['events']:>6} {r['unanswered']:>4} "
            f"{r['p50_ms']:>8} {r['p95_ms']:>8} {r['p99_ms']:>8} {r['max_ms']:>8}  "
            + ", ".join(f"{k} {v}" for k, v in sorted(r["reasons"].items()))
        )
        print(
            "      CPU per event (ms): "
            + ", ".join(f"{g} {ms}" for g, ms in r["cpu_ms_per_event"].items() if ms)
            + f"; {r['cores_at_offered_rate']} of {os.cpu_count()} cores at the offered rate"
            + f" (load {r['load_avg_1m']})"
        )
        if r["killed_at_s"] is not None:
            print(
                f"      {r['gateways']} gateways, one SIGKILLed at {r['killed_at_s']} s: "
                f"p99 after the kill {r['p99_after_kill_ms']} ms; nothing lost: "
                f"{r['nothing_lost']} ({r['recorded']} recorded); one debit per exit: "
                f"{r['one_debit_per_exit']} ({r['fare_debits']} debits)"
            )
    for r in results:
        if r["gates"] < GOAL_GATES.get(r["mode"], 10**9):
            continue
        ok = r["p99_ms"] <= GOAL_P99_MS and r["unanswered"] == 0
        verdict = "met" if ok else "NOT met"
        print(f"goal p99 <= {GOAL_P99_MS:.0f} ms at {r['gates']} gates, {r['mode']}: {verdict}")
    if args.json:
        name = "gate_latency" + (f"_gateways{args.gateways}" if args.gateways > 1 else "")
        name += "_edge" if args.modes == ["edge"] else ""
        name += "_serve" if args.serve and args.gateways == 1 else ""
        out = ROOT / "bench" / "results" / f"{name}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            json.dumps(
                {
                    "bench": "gate_latency",
                    "at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "machine": {
                        "cpus": os.cpu_count(),
                        "python": platform.python_version(),
                    },
                    "settings": {
                        k: getattr(args, k)
                        for k in (
                            "rate",
                            "events",
                            "max_seconds",
                            "lpr_workers",
                            "frames",
                            "plates",
                            "gateways",
                            "edge_doubtful",
                            "session_expiry",
                            "resend_after",
                        )
                    },
                    "goal_p99_ms": GOAL_P99_MS,
                    "goal_gates": GOAL_GATES,
                    "results": results,
                },
                indent=2,
            )
        )
        print(f"wrote {out}")


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
