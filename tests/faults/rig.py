"""The fault rig: the production system as separate processes that a test may stop or kill.

Why a rig of its own: the fault drills of issue 12 stop the database, restart and ``kill -9``
the broker, ``kill -9`` the gateway and the invoice worker, and take the tax authority away.
None of that may touch the machine's shared PostgreSQL or Mosquitto, so the rig brings:

- a private PostgreSQL cluster (``pg_createcluster 15 faults_<pid>_<tag>``), dropped at the end;
  clusters left by an earlier run that died (their pid is gone) are dropped first;
- a private Mosquitto configured by ``parking mqtt config`` (per-gate accounts and ACLs, the
  gateway's own account) on a port of its own, dying with its parent however the parent ends;
- ``parking serve --no-lpr`` (the consumer and API) and ``parking worker`` (invoices, submitter)
  as child processes, with the environment an installer would give them;
- the mock tax authority on a thread (it can be taken away and brought back on its port);
- the gates: ``edge.lane.Lane`` objects logged in with their ``parking mqtt config`` files,
  resending every event until its decision arrives.

:class:`Traffic` drives cars through the lanes: each car enters, and leaves (a paid exit) only
after its entry was decided, as at a real lot. ``tests/faults`` and ``bench/faults.py`` share
the rig; :mod:`tests.faults.checks` says whether a run kept every promise.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from edge.lane import Decision, Lane, LaneConfig
from gateway.broker import dying_with_parent, free_port, wait_for_port
from gateway.protocol import GateEvent
from simulator.cameras import TinyCamera

log = logging.getLogger(__name__)

PG_VERSION = "15"
CLUSTER_PREFIX = "faults_"
PARKING = str(Path(sys.executable).parent / "parking")
TARIFF = "hn-central"
FARE_MINUTES = 100  # how long before its exit a car entered: every exit is priced
OPENING_BALANCE_VND = 5_000_000


def wait_until(cond: Callable[[], Any], timeout: float, what: str) -> Any:
    """``cond()``'s first true value, polling; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in {timeout:.0f}s")
        time.sleep(0.1)


# --- PostgreSQL -----------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def drop_leftover_clusters() -> list[str]:
    """Drop the rig clusters whose run died (the pid in their name is gone); their names."""
    listing = subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=False
    ).stdout
    dropped = []
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) < 2 or not parts[1].startswith(CLUSTER_PREFIX):
            continue
        version, name = parts[0], parts[1]
        try:
            pid = int(name.removeprefix(CLUSTER_PREFIX).split("_", 1)[0])
        except ValueError:
            continue
        if pid != os.getpid() and not _pid_alive(pid):
            subprocess.run(["pg_dropcluster", "--stop", version, name], capture_output=True)
            log.warning("dropped the PostgreSQL cluster %s left by an earlier run", name)
            dropped.append(name)
    return dropped


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of the rig's own: stopped, crashed and started at will."""

    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    port: int = field(default_factory=free_port)

    @property
    def name(self) -> str:
        return f"{CLUSTER_PREFIX}{os.getpid()}_{self.tag}"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/parking"

    def create(self) -> None:
        drop_leftover_clusters()
        subprocess.run(
            ["pg_createcluster", PG_VERSION, self.name, "--port", str(self.port), "--start",
             "--", "--auth-local=trust", "--auth-host=trust"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        admin = create_engine(
            f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres",
            isolation_level="AUTOCOMMIT",
        )
        try:
            with admin.connect() as conn:
                conn.execute(text("CREATE DATABASE parking"))
        finally:
            admin.dispose()

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            ["pg_ctlcluster", PG_VERSION, self.name, *args],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """``fast``: a clean restart's first half; ``immediate``: a crash (recovery at start)."""
        self._ctl("stop", "-m", mode)

    def start(self) -> None:
        self._ctl("start")

    def drop(self) -> None:
        subprocess.run(
            ["pg_dropcluster", "--stop", PG_VERSION, self.name], capture_output=True, timeout=60
        )


# --- Mosquitto --------------------------------------------------------------------------------


@dataclass
class PrivateMosquitto:
    """Mosquitto with the configuration ``parking mqtt config`` writes, on a port of its own."""

    directory: Path
    port: int = field(default_factory=free_port)
    gateway_env: dict[str, str] = field(default_factory=dict)
    _proc: subprocess.Popen[bytes] | None = None

    def configure(self, env: Mapping[str, str]) -> None:
        """Run ``parking mqtt config`` against the rig's database (its gates must exist)."""
        done = subprocess.run(
            [PARKING, "mqtt", "config", "--out", str(self.directory), "--port", str(self.port),
             "--bind", "127.0.0.1"],
            env=dict(env), capture_output=True, text=True, timeout=120, check=False,
            cwd=self.directory.parent,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"parking mqtt config failed: {done.stdout}{done.stderr}")
        (env_file,) = (self.directory / "gateways").glob("*.env")
        for line in env_file.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.startswith("PARKING_"):
                self.gateway_env[key] = value

    def gate_account(self, lot_id: str, gate_id: str) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(
            (self.directory / "gates" / lot_id / f"{gate_id}.json").read_text()
        )
        return body

    def start(self) -> None:
        log_file = (self.directory / "mosquitto.log").open("ab")
        try:
            self._proc = subprocess.Popen(
                dying_with_parent(["mosquitto", "-c", str(self.directory / "mosquitto.conf")]),
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        finally:
            log_file.close()
        wait_for_port("127.0.0.1", self.port, timeout=20)

    def stop(self) -> None:
        """A clean stop (SIGTERM: Mosquitto saves its store)."""
        _end(self._proc, signal.SIGTERM)
        self._proc = None

    def kill(self) -> None:
        """``kill -9``: what it acknowledged since its last autosave is gone."""
        _end(self._proc, signal.SIGKILL)
        self._proc = None


def _end(proc: subprocess.Popen[bytes] | None, sig: signal.Signals, wait_s: float = 20) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(wait_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


# --- the service processes --------------------------------------------------------------------


@dataclass
class Service:
    """One ``parking`` command as a child process (``serve``, ``worker``)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    ready: Callable[[Service], bool]
    _proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self, timeout: float = 90.0) -> None:
        """Start it and wait until it is ready."""
        self.spawn()
        self.wait_ready(timeout)

    def spawn(self) -> None:
        """Start it without waiting (several start faster side by side)."""
        self.starts += 1
        with self.log_path.open("ab") as out:
            out.write(f"\n=== start {self.starts} at {datetime.now(UTC).isoformat()}\n".encode())
            out.flush()
            self._proc = subprocess.Popen(
                dying_with_parent([PARKING, *self.argv]),
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.log_path.parent,
            )

    def wait_ready(self, timeout: float = 90.0) -> None:
        assert self._proc is not None, f"{self.name} was not started"
        deadline = time.monotonic() + timeout
        while not self.ready(self):
            if self._proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self._proc.returncode}): {self.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready in {timeout:.0f}s: {self.tail()}")
            time.sleep(0.2)

    def terminate(self) -> None:
        """SIGTERM without waiting (:meth:`stop` waits)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def kill(self) -> None:
        """``kill -9``: no goodbye, no cleanup."""
        _end(self._proc, signal.SIGKILL)
        self._proc = None

    def stop(self) -> None:
        _end(self._proc, signal.SIGTERM, wait_s=30)
        self._proc = None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _http_ready(port: int) -> Callable[[Service], bool]:
    def ready(_service: Service) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    return ready


def _printed(line: str) -> Callable[[Service], bool]:
    def ready(service: Service) -> bool:
        return line in service.log_text().rsplit("\n=== start", 1)[-1]

    return ready


# --- the tax authority --------------------------------------------------------------------------


@dataclass
class TaxAuthority:
    """The mock tax authority on 127.0.0.1:``port``; :meth:`stop` is an outage (connections
    refused), :meth:`start` its return with the same store."""

    make: Callable[[], Any]  # a gateway.demo.UvicornThread, not started
    port: int
    _server: Any = None

    def start(self) -> None:
        deadline = time.monotonic() + 30
        while True:  # the port of the previous server may linger a moment
            self._server = self.make()
            try:
                self._server.start()
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


# --- the gates and their traffic -------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """One event a lane captured (its decision is the lane's to receive)."""

    lane: Lane
    event: GateEvent
    plate: str

    @property
    def event_id(self) -> str:
        return self.event.event_id

    @property
    def direction(self) -> str:
        return self.event.direction


class Traffic:
    """Cars through the rig's lanes: each enters through an entry lane of its lot, and leaves
    through an exit lane once its entry was decided (``FARE_MINUTES`` after entering, so every
    exit of a registered car is a paid one). Everything sent is remembered for the checks."""

    def __init__(self, rig: FaultRig) -> None:
        self.rig = rig
        self.sent: list[Sent] = []
        self._lock = threading.Lock()
        self._inside: list[Sent] = []  # entries, in order, whose cars have not left
        self._waiting: list[str] = []  # registered cars not yet come (registered beforehand:
        # registering needs the database, which a drill may have taken away)
        self._turn = 0

    def stock(self, cars: int) -> None:
        """Register cars until ``cars`` wait to come (before a fault, not during it)."""
        while len(self._waiting) < cars:
            self._waiting.append(self.rig.new_plate())

    def next_car(self) -> str:
        with self._lock:
            if self._waiting:
                return self._waiting.pop(0)
        return self.rig.new_plate()

    def _lane(self, lot: str, direction: str) -> Lane:
        lanes = [
            lane
            for (lot_id, _g), lane in self.rig.lanes.items()
            if lot_id == lot and lane.cfg.direction == direction
        ]
        self._turn += 1
        return lanes[self._turn % len(lanes)]

    def enter(self, plate: str, lane: Lane | None = None) -> Sent:
        """The car enters through ``lane`` (default: the next entry lane, lots in turn)."""
        if lane is None:
            lane = self._lane(self.rig.lots[self._turn % len(self.rig.lots)], "entry")
        at = datetime.now(UTC) - timedelta(minutes=FARE_MINUTES)
        event = lane.capture(plate, camera_text=True, plate_confidence=0.98, captured_at=at)
        sent = Sent(lane, event, plate)
        with self._lock:
            self.sent.append(sent)
            self._inside.append(sent)
        return sent

    def leave(self, entry: Sent) -> Sent:
        lane = self._lane(entry.lane.cfg.lot_id, "exit")
        event = lane.capture(entry.plate, camera_text=True, plate_confidence=0.98)
        sent = Sent(lane, event, entry.plate)
        with self._lock:
            self.sent.append(sent)
            self._inside.remove(entry)
        return sent

    def parked(self) -> list[Sent]:
        """Cars inside whose entry was decided (open): free to leave."""
        with self._lock:
            inside = list(self._inside)
        return [s for s in inside if (d := s.lane.decision(s.event_id)) is not None and d.open]

    def fill(self, cars: int, timeout: float = 60.0) -> None:
        """``cars`` new cars enter, and their entries are decided, before a fault."""
        self.stock(cars)
        entries = [self.enter(self.next_car()) for _ in range(cars)]
        wait_until(
            lambda: all(e.lane.decision(e.event_id) for e in entries), timeout, "entries decided"
        )

    def stream(self, cars: int, pace_s: float, stop: threading.Event | None = None) -> int:
        """``cars`` times: a parked car leaves and a new one enters, every ``pace_s``."""
        done = 0
        for _ in range(cars):
            if stop is not None and stop.is_set():
                break
            parked = self.parked()
            if parked:
                self.leave(parked[0])
            self.enter(self.next_car())
            done += 1
            time.sleep(pace_s)
        return done

    @contextlib.contextmanager
    def streaming(self, cars: int, pace_s: float) -> Iterator[threading.Thread]:
        """:meth:`stream` on a thread while the block runs (the fault); joined at its end, and
        what the thread raised is raised here (a drill that stopped sending is no drill)."""
        self.stock(cars)
        stop = threading.Event()
        failed: list[BaseException] = []

        def run() -> None:
            try:
                self.stream(cars, pace_s, stop)
            except BaseException as exc:
                failed.append(exc)

        thread = threading.Thread(target=run, name="traffic", daemon=True)
        thread.start()
        try:
            yield thread
        finally:
            thread.join(cars * pace_s + 60)
            stop.set()
        if failed:
            raise RuntimeError("the traffic stopped during the drill") from failed[0]

    def answers(self) -> dict[str, Decision | None]:
        with self._lock:
            sent = list(self.sent)
        return {s.event_id: s.lane.decision(s.event_id) for s in sent}

    def unanswered(self) -> list[Sent]:
        with self._lock:
            sent = list(self.sent)
        return [s for s in sent if s.lane.decision(s.event_id) is None]

    def drain(self, timeout: float) -> float:
        """Wait until every event sent is decided; the seconds it took (AssertionError after
        ``timeout``, naming how many wait)."""
        started = time.monotonic()
        deadline = started + timeout
        while self.unanswered():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(self.unanswered())} of {len(self.sent)} events unanswered after "
                    f"{timeout:.0f}s"
                )
            time.sleep(0.1)
        return time.monotonic() - started


# --- the rig ------------------------------------------------------------------------------------


@dataclass
class FaultRig:
    tmp: Path
    pg: PrivatePostgres
    broker: PrivateMosquitto
    gateway: Service
    worker: Service
    tax: TaxAuthority
    env: dict[str, str]
    lots: list[str]
    lanes: dict[tuple[str, str], Lane] = field(default_factory=dict)
    _plates: int = 0

    @property
    def database_url(self) -> str:
        return self.pg.url

    def new_plate(self) -> str:
        """A registered car of its own account (credited by an operator, never a top-up)."""
        from billing.domain.model import Owner, OwnerKind
        from billing.services import UnitOfWork, add_vehicle, create_account, manual_credit
        from gateway.db import make_engine, make_session_factory

        self._plates += 1
        n = self._plates
        plate = f"51F-{100 + n // 100:03d}.{n % 100:02d}"
        engine = make_engine(self.database_url)
        try:
            sessions = make_session_factory(engine)
            account = create_account(
                UnitOfWork(sessions), Owner(OwnerKind.PERSON, f"Khách hàng {n}")
            )
            add_vehicle(UnitOfWork(sessions), account, plate, "car_le9")
            manual_credit(
                UnitOfWork(sessions),
                account,
                OPENING_BALANCE_VND,
                key=f"faults-open-{plate}",
                actor="fault rig",
                reason="opening balance",
            )
        finally:
            engine.dispose()
        return plate

    def add_lane(self, lot_id: str, gate_id: str, direction: str) -> Lane:
        account = self.broker.gate_account(lot_id, gate_id)
        lane = Lane(
            LaneConfig(
                lot_id,
                gate_id,
                direction,  # type: ignore[arg-type]
                self.tmp / "gates" / f"{gate_id}.sqlite",
                host="127.0.0.1",
                port=self.broker.port,
                username=account["username"],
                password=account["password"],
                keepalive=5,
                # Short waits: a drill must recover in seconds, not the field's minutes.
                resend_after_s=2.0,
                resend_max_s=4.0,
                puback_timeout_s=3.0,
                status_interval_s=5.0,
            ),
            TinyCamera(),
        )
        lane.start(wait_s=20)
        self.lanes[(lot_id, gate_id)] = lane
        return lane

    def parking(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """A ``parking`` command with the rig's settings (as an operator runs it)."""
        return subprocess.run(
            [PARKING, *argv], env=self.env, capture_output=True, text=True, timeout=timeout,
            check=False, cwd=self.tmp,
        )  # fmt: skip

    def close(self) -> None:
        self.worker.terminate()  # both shut down side by side
        self.gateway.terminate()
        stopping = [threading.Thread(target=_quietly(lane.stop)) for lane in self.lanes.values()]
        for t in stopping:
            t.start()
        for t in stopping:
            t.join(30)
        for stop in (self.worker.stop, self.gateway.stop, self.tax.stop, self.broker.stop):
            with contextlib.suppress(Exception):
                stop()


def _quietly(call: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        with contextlib.suppress(Exception):
            call()

    return run


def _base_env(tmp: Path, database_url: str, tax_port: int, http_port: int) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("PARKING_")}
    return {
        **keep,
        "PARKING_DATABASE_URL": database_url,
        "PARKING_DATA_DIR": str(tmp / "data"),
        "PARKING_TAX_AUTHORITY_URL": f"http://127.0.0.1:{tax_port}",
        "PARKING_HTTP_PORT": str(http_port),
        "PARKING_KEEP_IMAGES": "false",
        "PARKING_LPR_WORKERS": "1",
    }


@contextlib.contextmanager
def fault_rig(tmp: Path, *, lots: int = 1, pairs: int = 1) -> Iterator[FaultRig]:
    """The whole rig, ``lots`` lots of ``pairs`` entry and exit lanes each, torn down at the
    end whatever happened (the cluster dropped, every child ended)."""
    from billing.services import UnitOfWork, add_gate, create_lot, seed_demo
    from gateway import migrate
    from gateway.db import make_engine, make_session_factory
    from gateway.demo import mock_tax_authority
    from gateway.demo_world import seller_of

    if shutil.which("mosquitto") is None or shutil.which("pg_createcluster") is None:
        raise RuntimeError("the fault rig needs mosquitto and pg_createcluster on this machine")
    tmp.mkdir(parents=True, exist_ok=True)
    pg = PrivatePostgres()
    pg.create()
    rig: FaultRig | None = None
    try:
        migrate.upgrade(pg.url)
        engine = make_engine(pg.url)
        try:
            sessions = make_session_factory(engine)
            data = seed_demo(UnitOfWork(sessions))
            lot_ids = []
            gates: list[tuple[str, str, str]] = []
            for n in range(lots):
                lot = f"faults-lot{n + 1}"
                create_lot(UnitOfWork(sessions), lot, f"Bãi thử lỗi {n + 1}", data.operator_id,
                           TARIFF, capacity=1000)  # fmt: skip
                lot_ids.append(lot)
                for p in range(pairs):
                    for direction, tag in (("entry", "in"), ("exit", "out")):
                        gate = add_gate(UnitOfWork(sessions), f"{lot}-{tag}{p + 1}", lot, direction)
                        gates.append((lot, gate, direction))
            seller = seller_of(UnitOfWork(sessions), data.operator_id)
        finally:
            engine.dispose()
        tax_port, http_port = free_port(), free_port()
        env = _base_env(tmp, pg.url, tax_port, http_port)
        broker = PrivateMosquitto(tmp / "mqtt")
        broker.configure(env)
        service_env = {**env, **broker.gateway_env, "PARKING_MQTT_HOST": "127.0.0.1"}
        rig = FaultRig(
            tmp=tmp,
            pg=pg,
            broker=broker,
            gateway=Service(
                "parking serve",
                ["serve", "--no-lpr"],
                service_env,
                tmp / "serve.log",
                _http_ready(http_port),
            ),
            worker=Service(
                "parking worker",
                ["worker"],
                service_env,
                tmp / "worker.log",
                _printed("invoice worker and submitter running"),
            ),
            tax=TaxAuthority(
                lambda: mock_tax_authority(seller, tmp / "tax-authority", tax_port), tax_port
            ),
            env=env,
            lots=lot_ids,
        )
        broker.start()
        rig.tax.start()
        rig.gateway.spawn()
        rig.worker.spawn()
        rig.gateway.wait_ready()
        rig.worker.wait_ready()
        for lot, gate, direction in gates:
            rig.add_lane(lot, gate, direction)
        yield rig
    finally:
        if rig is not None:
            rig.close()
        pg.drop()
