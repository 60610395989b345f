"""``parking edge``: what an installer runs on a gate box.

- ``run``: serve the lot's lanes (``edge.run``) until SIGINT or SIGTERM; the systemd unit's
  ExecStart.
- ``config``: draft gate.toml from the broker accounts ``parking mqtt config`` wrote.
- ``check``: read gate.toml (a bad or missing key is named), log in to the broker with each
  lane's account, take a picture from each camera, read each input; raise a barrier or write a
  display only when asked (``--open``, ``--display``). Exit code 1 when anything failed, so a
  deployment script can stop there.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from pathlib import Path
from typing import Annotated

import typer

from edge.config import DEFAULT_PATH, PLACEHOLDER, ConfigError, EdgeConfig, LaneConfig, load_config
from edge.config_draft import draft_config, read_gate_accounts
from edge.io.build import LaneIo, build_io
from edge.io.camera import CameraError
from edge.io.points import IoError
from edge.io.rtsp import RtspCamera
from lpr.images import to_bgr

app = typer.Typer(
    help="The lot's edge computer: its config file, and checks of its cameras and I/O.",
    no_args_is_help=True,
)

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", help="gate.toml", envvar="PARKING_EDGE_CONFIG")
]


def _load(path: Path) -> EdgeConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


class Report:
    """Lines of ``ok`` / ``FAIL`` / ``skip``; any FAIL makes the exit code 1."""

    def __init__(self) -> None:
        self.failed = 0

    def line(self, status: str, what: str, detail: str) -> None:
        if status == "FAIL":
            self.failed += 1
        typer.echo(f"  {status:<4}  {what:<12} {detail}")


@app.command("run")
def run_edge(
    config: ConfigOption = DEFAULT_PATH,
    log_level: Annotated[str, typer.Option("--log-level", help="DEBUG, INFO, WARNING")] = "INFO",
) -> None:
    """Serve the lanes of one lot: cameras, triggers, barriers, displays, the reader, the
    event buffer and, when the center does not answer, offline decisions."""
    import signal
    import threading

    from edge.run import run

    logging.basicConfig(
        level=getattr(logging, log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    cfg = _load(config)
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        logging.getLogger("edge").info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        run(cfg, stop, on_ready=lambda: typer.echo(f"edge of lot {cfg.lot_id} running", err=True))
    except (OSError, RuntimeError) as exc:  # a buffer or ledger that cannot be opened
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


@app.command("check")
def check(
    config: ConfigOption = DEFAULT_PATH,
    lane: Annotated[
        list[str] | None, typer.Option("--lane", help="check only this gate (repeatable)")
    ] = None,
    open_barrier: Annotated[
        bool, typer.Option("--open", help="raise each checked lane's barrier once (it moves!)")
    ] = False,
    display: Annotated[
        str | None, typer.Option("--display", help="show this text on each checked lane")
    ] = None,
    save: Annotated[
        Path | None, typer.Option("--save", help="write the pictures taken into this folder")
    ] = None,
    config_only: Annotated[
        bool, typer.Option("--config-only", help="only read and check the file")
    ] = False,
) -> None:
    """Check a gate box: its config, broker accounts, cameras and inputs (and, when asked,
    its barriers and displays)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    cfg = _load(config)
    wanted = list(lane or [])
    unknown = sorted(set(wanted) - {lane_cfg.gate_id for lane_cfg in cfg.lanes})
    if unknown:
        typer.echo(f"error: no lane {', '.join(unknown)} in {config}", err=True)
        raise typer.Exit(1)
    lanes = [lane_cfg for lane_cfg in cfg.lanes if not wanted or lane_cfg.gate_id in wanted]
    typer.echo(
        f"{config}: lot {cfg.lot_id}, {len(cfg.lanes)} lanes, broker "
        f"{cfg.broker.host}:{cfg.broker.port}{' (TLS)' if cfg.broker.tls else ''}, "
        f"{len(cfg.devices)} I/O devices: ok"
    )
    if config_only:
        return
    report = Report()
    gate = build_io(cfg, lanes=[lane_cfg.gate_id for lane_cfg in lanes])
    try:
        for lane_cfg in lanes:
            typer.echo(f"lane {lane_cfg.gate_id} ({lane_cfg.direction})")
            _check_broker(cfg, lane_cfg, report)
            io = gate.lanes[lane_cfg.gate_id]
            _check_camera(io, lane_cfg, report, save)
            _check_inputs(io, report)
            if display is not None:
                io.display.show(display)
                report.line("ok", "display", f"showed {display!r}")
            if open_barrier:
                _check_barrier(io, report)
    finally:
        gate.close()
    if report.failed:
        typer.echo(f"{report.failed} checks failed", err=True)
        raise typer.Exit(1)
    typer.echo("all checks passed")


def _check_broker(cfg: EdgeConfig, lane: LaneConfig, report: Report) -> None:
    """Log in with the lane's account (a throw-away client id: the running gate keeps its
    session) and leave at once."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

    b = cfg.broker
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"edge-check-{lane.gate_id}-{uuid.uuid4().hex[:8]}",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    client.username_pw_set(lane.username, lane.password)
    if b.tls:
        client.tls_set(
            ca_certs=str(b.ca_file) if b.ca_file else None,
            certfile=str(b.certfile) if b.certfile else None,
            keyfile=str(b.keyfile) if b.keyfile else None,
        )
    answer: list[str] = []
    client.on_connect = lambda _c, _u, _f, reason, _p: answer.append(str(reason))
    started = time.monotonic()
    try:
        client.connect(b.host, b.port, keepalive=10)
        while not answer and time.monotonic() - started < 5:
            client.loop(0.1)
    except OSError as exc:
        report.line("FAIL", "broker", f"{b.host}:{b.port} unreachable: {exc}")
        return
    finally:
        client.disconnect()
    if not answer:
        report.line("FAIL", "broker", f"{b.host}:{b.port}: no answer to CONNECT within 5 s")
    elif answer[0] != "Success":
        report.line("FAIL", "broker", f"{lane.username} refused: {answer[0]}")
    else:
        report.line("ok", "broker", f"{lane.username} logged in at {b.host}:{b.port}")


def _check_camera(io: LaneIo, lane: LaneConfig, report: Report, save: Path | None) -> None:
    camera = io.camera
    started = time.monotonic()
    if isinstance(camera, RtspCamera):  # give the stream its time to open
        camera.start()
        deadline = started + camera.open_timeout_s + camera.max_frame_age_s
        while camera.latest_image() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    try:
        frames, _crop = camera.capture(None)
    except CameraError as exc:
        report.line("FAIL", "camera", str(exc))
        return
    h, w = to_bgr(frames[-1]).shape[:2]
    size = sum(len(f) for f in frames) // 1024
    report.line(
        "ok",
        "camera",
        f"{camera}: {len(frames)} frames {w}x{h}, {size} KiB in {time.monotonic() - started:.1f} s",
    )
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        for i, frame in enumerate(frames):
            (save / f"{lane.gate_id}-{i + 1}.jpg").write_bytes(frame)


def _check_inputs(io: LaneIo, report: Report) -> None:
    if not io.inputs:
        report.line("skip", "inputs", "none configured (motion trigger, no safety inputs)")
    for role, pin in io.inputs.items():
        try:
            report.line("ok", role, f"{pin}: {'ACTIVE' if pin.read() else 'inactive'}")
        except IoError as exc:
            report.line("FAIL", role, str(exc))


def _check_barrier(io: LaneIo, report: Report) -> None:
    barrier = io.barrier
    if not barrier.open("check", f"parking edge check by {_user()}"):
        report.line("FAIL", "barrier", "could not be raised (see the error above)")
        return
    deadline = time.monotonic() + barrier.pulse_s + 30
    while barrier.is_open and time.monotonic() < deadline:
        barrier.step()
        time.sleep(barrier.poll_s)
    if barrier.is_open:
        report.line("FAIL", "barrier", "still held open after 30 s (vehicle under the arm?)")
    else:
        report.line("ok", "barrier", f"pulsed {barrier.pulse_s:g} s")


def _user() -> str:
    return os.environ.get("SUDO_USER") or os.environ.get("USER") or "installer"


@app.command("config")
def draft(
    credentials: Annotated[
        Path,
        typer.Option(
            "--credentials", help="the --out folder of `parking mqtt config` (or its gates/LOT)"
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="where to write gate.toml")],
    lot: Annotated[
        str | None, typer.Option("--lot", help="the lot, when there are several")
    ] = None,
    broker_host: Annotated[
        str | None, typer.Option("--broker-host", help="the broker as the gate box reaches it")
    ] = None,
    entry: Annotated[
        list[str] | None, typer.Option("--entry", help="an entry gate (repeatable)")
    ] = None,
    exit_: Annotated[
        list[str] | None, typer.Option("--exit", help="an exit gate (repeatable)")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="overwrite OUT")] = False,
) -> None:
    """Draft gate.toml for one lot from its gates' broker accounts; what only the installer
    knows (cameras, I/O modules, directions not given) is left CHANGE-ME."""
    try:
        accounts = read_gate_accounts(credentials, lot)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    directions = {g: "entry" for g in entry or []} | {g: "exit" for g in exit_ or []}
    unknown = sorted(set(directions) - {a.gate_id for a in accounts})
    if unknown:
        typer.echo(f"error: lot {accounts[0].lot_id} has no gate {', '.join(unknown)}", err=True)
        raise typer.Exit(1)
    if out.exists() and not force:
        typer.echo(f"error: {out} exists (--force to overwrite)", err=True)
        raise typer.Exit(1)
    text = draft_config(accounts, broker_host, directions)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(out, 0o600)
    left = text.count(f'"{PLACEHOLDER}"')
    typer.echo(
        f"wrote {out} (0600): lot {accounts[0].lot_id}, gates "
        f"{', '.join(a.gate_id for a in accounts)}; {left} values to fill in ({PLACEHOLDER}), "
        f"then: parking edge check --config {out}"
    )
