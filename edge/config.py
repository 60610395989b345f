"""gate.toml: everything one edge process needs to serve the lanes of one lot.

The file is written once by an installer (``parking edge config`` drafts it from the broker
credentials that ``parking mqtt config`` wrote) and read at every start. It holds the lot and
its lanes, each lane's broker account, camera, vehicle trigger, barrier and display, the I/O
modules they are wired to, the plate reader and the offline policy.

A gate box must not start half-configured: a missing file, bad TOML, a misspelt or missing
key, a value of the wrong kind, a point on an undeclared device, or a placeholder left as
``CHANGE-ME`` is a :class:`ConfigError` whose message names the key (``lanes[0] (gate g1)
.camera.url: ...``) so the installer knows which line to fix. Unknown keys are errors too: a
typo such as ``pulse_ms`` must not silently fall back to a default.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import stat
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gateway.protocol import Direction, Id

log = logging.getLogger(__name__)

PLACEHOLDER = "CHANGE-ME"
DEFAULT_PATH = Path("/etc/parking/gate.toml")
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"


class ConfigError(ValueError):
    """The config cannot be used; the message names the file and the key."""


class _AtKey(ValueError):
    """A cross-field error that knows its key (relative to the model that raises it)."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- I/O modules and their points ------------------------------------------------------------


class ModbusDevice(_Section):
    """A Modbus TCP I/O module (Advantech ADAM-6050, Moxa ioLogik E1212, ...)."""

    kind: Literal["modbus"]
    host: str = Field(min_length=1)
    port: int = Field(default=502, ge=1, le=65535)
    unit_id: int = Field(default=1, ge=0, le=255)
    timeout_s: float = Field(default=0.5, gt=0, le=10)


class GpioDevice(_Section):
    """GPIO lines of the gate box itself (Linux character device, through libgpiod)."""

    kind: Literal["gpio"]
    chip: str = "/dev/gpiochip0"


class MemoryDevice(_Section):
    """Simulated I/O held in memory: a bench, a demo, or a lane whose hardware is not wired yet
    (nothing moves; every write is logged)."""

    kind: Literal["memory"]


Device = Annotated[ModbusDevice | GpioDevice | MemoryDevice, Field(discriminator="kind")]


class InputPoint(_Section):
    """One digital input: Modbus discrete input (FC 2) or coil (FC 1; ADAM-6000 modules also
    expose their inputs as coils), or a GPIO line offset."""

    device: str
    address: int = Field(ge=0, le=65535)
    table: Literal["discrete_input", "coil"] = "discrete_input"
    active_low: bool = False


class OutputPoint(_Section):
    """One digital output: a Modbus coil (FC 5) or a GPIO line offset."""

    device: str
    address: int = Field(ge=0, le=65535)
    active_low: bool = False


# --- a lane's parts --------------------------------------------------------------------------


class _CameraBase(_Section):
    frames: int = Field(default=2, ge=1, le=5)  # JPEG frames per event (the wire format allows 1-5)
    frame_interval_s: float = Field(default=0.15, ge=0, le=2)  # between the frames of one event


class RtspCamera(_CameraBase):
    kind: Literal["rtsp"]
    url: str
    transport: Literal["tcp", "udp"] = "tcp"
    jpeg_quality: int = Field(default=85, ge=30, le=100)
    open_timeout_s: float = Field(default=5.0, gt=0, le=60)
    read_timeout_s: float = Field(default=5.0, gt=0, le=60)
    max_frame_age_s: float = Field(default=2.0, gt=0, le=60)  # older than this: the camera is down
    reconnect_min_s: float = Field(default=0.5, gt=0, le=60)
    reconnect_max_s: float = Field(default=30.0, gt=0, le=600)

    @field_validator("url")
    @classmethod
    def _rtsp_url(cls, v: str) -> str:
        return _url(v, ("rtsp://", "rtsps://"))


class SnapshotCamera(_CameraBase):
    """An HTTP snapshot URL (ONVIF's GetSnapshotUri, e.g. ``http://cam/snapshot.jpg``)."""

    kind: Literal["snapshot"]
    url: str
    username: str | None = None
    password: str | None = None
    auth: Literal["basic", "digest"] = "digest"
    timeout_s: float = Field(default=3.0, gt=0, le=30)
    verify_tls: bool = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        return _url(v, ("http://", "https://"))


class FolderCamera(_Section):
    """JPEG files from a folder: the newest a camera uploaded, or a recording in name order."""

    kind: Literal["folder"]
    path: Path
    order: Literal["newest", "cycle"] = (
        "newest"  # newest: uploaded by the camera; cycle: a recording
    )
    frames: int = Field(default=1, ge=1, le=5)
    max_age_s: float = Field(
        default=10.0, gt=0
    )  # "newest": an older newest file means the camera is down


def _url(value: str, schemes: tuple[str, ...]) -> str:
    if not value.lower().startswith(schemes):
        raise ValueError(f"must start with {' or '.join(schemes)}")
    return value


Camera = Annotated[RtspCamera | SnapshotCamera | FolderCamera, Field(discriminator="kind")]


class LoopTrigger(_Section):
    """An induction loop detector's relay on a digital input."""

    kind: Literal["loop"]
    input: InputPoint
    debounce_s: float = Field(default=0.1, ge=0, le=5)  # the input must hold this long to count
    poll_s: float = Field(default=0.05, gt=0, le=1)


class MotionTrigger(_Section):
    """A vehicle entering a region of the lane's camera image."""

    kind: Literal["motion"]
    # x, y, width, height as fractions of the frame
    region: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)
    threshold: float = Field(default=0.12, gt=0, lt=1)  # share of the region that must change
    cooldown_s: float = Field(default=3.0, ge=0, le=120)  # at least this long between two events
    clear_s: float = Field(
        default=1.0, ge=0, le=60
    )  # the region must look empty this long to re-arm

    @field_validator("region")
    @classmethod
    def _inside_frame(cls, v: tuple[float, float, float, float]) -> tuple[float, ...]:
        x, y, w, h = v
        if not (0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 - x + 1e-9 and 0 < h <= 1 - y + 1e-9):
            raise ValueError("region [x, y, width, height] must lie inside the frame (0-1)")
        return v


Trigger = Annotated[LoopTrigger | MotionTrigger, Field(discriminator="kind")]


class BarrierConfig(_Section):
    open: OutputPoint  # pulsed to raise the arm
    close: OutputPoint | None = None  # pulsed to lower it, for barriers that do not by themselves
    pulse_s: float = Field(default=0.5, ge=0.05, le=10)
    occupied: InputPoint | None = None  # "vehicle under the arm" (safety loop or photocell)
    manual_open: InputPoint | None = None  # the attendant's button
    close_after_s: float = Field(
        default=30.0, gt=0, le=600
    )  # with `close`: lower if no vehicle came
    poll_s: float = Field(default=0.05, gt=0, le=1)

    @model_validator(mode="after")
    def _close_needs_occupied(self) -> BarrierConfig:
        if self.close is not None and self.occupied is None:
            raise _AtKey(
                ("occupied",),
                "a barrier with a close output needs an occupied input: the arm is lowered "
                "only once nothing is under it",
            )
        return self


class LogDisplay(_Section):
    kind: Literal["log"] = "log"


class ModbusDisplay(_Section):
    """Text into a block of holding registers (two bytes per register, zero-padded)."""

    kind: Literal["modbus"]
    device: str
    address: int = Field(ge=0, le=65535)
    registers: int = Field(default=16, ge=1, le=123)  # 123: the most one Modbus write can carry
    encoding: Literal["ascii", "utf-8"] = "ascii"  # ascii: Vietnamese folded (đ -> d, ư -> u)


Display = Annotated[LogDisplay | ModbusDisplay, Field(discriminator="kind")]


class LaneConfig(_Section):
    gate_id: Id
    direction: Direction
    # The gate's own broker account (``gate/{lot}/{gate}``), inline or from the file that
    # ``parking mqtt config`` wrote for this gate (gates/LOT/GATE.json).
    username: str | None = None
    password: str | None = None
    credentials_file: Path | None = None
    camera: Camera
    trigger: Trigger
    barrier: BarrierConfig
    display: Display = LogDisplay()

    @model_validator(mode="after")
    def _one_account(self) -> LaneConfig:
        inline = self.username is not None or self.password is not None
        if inline and self.credentials_file is not None:
            raise ValueError("give username/password or credentials_file, not both")
        if not inline and self.credentials_file is None:
            raise ValueError(
                "the gate's broker account is missing: username and password, or credentials_file"
            )
        if inline and not (self.username and self.password):
            raise ValueError("username and password go together")
        if isinstance(self.trigger, MotionTrigger) and not isinstance(self.camera, RtspCamera):
            raise _AtKey(
                ("trigger", "kind"),
                "a motion trigger watches a video stream: it needs an rtsp camera",
            )
        return self


# --- the whole box ---------------------------------------------------------------------------


class BrokerConfig(_Section):
    host: str = Field(min_length=1)
    port: int = Field(default=1883, ge=1, le=65535)
    tls: bool = False
    ca_file: Path | None = None
    certfile: Path | None = None
    keyfile: Path | None = None
    keepalive_s: int = Field(default=15, ge=5, le=600)


class ReaderConfig(_Section):
    """The plate reader the edge runs itself (its own read in events, offline decisions)."""

    recognizer: Literal["auto", "plate", "rapidocr", "easyocr"] = "auto"
    # CRAFT needs torch (parking[easyocr]): off on a gate box unless asked for.
    craft_fallback: bool = False


class OfflinePolicy(_Section):
    """When and how the edge decides alone (``parking edge run``)."""

    enabled: bool = True
    decide_after_s: float = Field(
        default=1.5, gt=0, le=30
    )  # no barrier command by then: decide here
    # The gateway's Ed25519 public key for the signed allow-list (base64 of its 32 raw bytes).
    # Without it the edge never opens on its own: every car waits for the center.
    allowlist_public_key: str | None = None
    allowlist_max_age_s: int = Field(default=86_400, ge=60)  # an older allow-list is not trusted
    # Reads of the plate before the edge gives up ("unreadable"): the car waits at the barrier,
    # so a plate not read surely from the event's frames gets fresh pictures.
    read_attempts: int = Field(default=3, ge=1, le=5)

    @field_validator("allowlist_public_key")
    @classmethod
    def _ed25519_key(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            raw = base64.b64decode(v, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("not base64") from None
        if len(raw) != 32:
            raise ValueError(f"an Ed25519 public key is 32 bytes, this is {len(raw)}")
        return v


class EdgeConfig(_Section):
    lot_id: Id
    data_dir: Path = Path("/var/lib/parking-edge")  # event buffers and the allow-list
    broker: BrokerConfig
    devices: dict[Annotated[str, Field(pattern=NAME_PATTERN)], Device] = {}
    lanes: list[LaneConfig] = Field(min_length=1)
    reader: ReaderConfig = ReaderConfig()
    offline: OfflinePolicy = OfflinePolicy()
    # Prometheus metrics (edge_*) on 127.0.0.1:PORT; unset: not served.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)

    @model_validator(mode="after")
    def _consistent(self) -> EdgeConfig:
        seen: set[str] = set()
        for i, lane in enumerate(self.lanes):
            if lane.gate_id in seen:
                raise _AtKey(("lanes", i, "gate_id"), f"gate {lane.gate_id} appears twice")
            seen.add(lane.gate_id)
            for key, point, kinds in lane_points(lane):
                device = self.devices.get(point.device)
                if device is None:
                    raise _AtKey(
                        ("lanes", i, *key, "device"),
                        f"no device {point.device!r} under [devices] "
                        f"(declared: {', '.join(sorted(self.devices)) or 'none'})",
                    )
                if device.kind not in kinds:
                    raise _AtKey(
                        ("lanes", i, *key, "device"),
                        f"device {point.device!r} is {device.kind}; this needs "
                        f"{' or '.join(kinds)}",
                    )
        return self

    def lane(self, gate_id: str) -> LaneConfig:
        for lane in self.lanes:
            if lane.gate_id == gate_id:
                return lane
        raise KeyError(f"no lane {gate_id!r} in this config")


_POINT_KINDS = ("modbus", "gpio", "memory")


def lane_points(lane: LaneConfig) -> list[tuple[tuple[str, ...], Any, tuple[str, ...]]]:
    """Every I/O point a lane uses, with its key and the device kinds it may sit on."""
    out: list[tuple[tuple[str, ...], Any, tuple[str, ...]]] = []
    if isinstance(lane.trigger, LoopTrigger):
        out.append((("trigger", "input"), lane.trigger.input, _POINT_KINDS))
    b = lane.barrier
    for name in ("open", "close", "occupied", "manual_open"):
        point = getattr(b, name)
        if point is not None:
            out.append((("barrier", name), point, _POINT_KINDS))
    if isinstance(lane.display, ModbusDisplay):
        out.append((("display",), lane.display, ("modbus", "memory")))
    return out


# --- loading ---------------------------------------------------------------------------------


def key_name(loc: Sequence[str | int], data: Any) -> str:
    """``('lanes', 0, 'camera', 'rtsp', 'url')`` -> ``lanes[0] (gate g1).camera.url``.

    pydantic puts the tag of a tagged union (``rtsp``) into the location; it is not a key of
    the file, so it is dropped when the data at that point has it as its ``kind``.
    """
    out = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, Mapping) and isinstance(node.get("gate_id"), str):
                out += f" (gate {node['gate_id']})"
            continue
        if isinstance(node, Mapping) and part not in node and node.get("kind") == part:
            continue
        out += f".{part}" if out else str(part)
        node = node.get(part) if isinstance(node, Mapping) else None
    return out or "(top level)"


def _placeholders(node: Any, loc: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    if isinstance(node, str):
        return [loc] if PLACEHOLDER in node else []
    if isinstance(node, Mapping):
        return [p for k, v in node.items() for p in _placeholders(v, (*loc, k))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _placeholders(v, (*loc, i))]
    return []


def parse_config(data: Mapping[str, Any], *, source: str = "gate.toml") -> EdgeConfig:
    """Validate parsed TOML; every problem is listed with its key in one ConfigError."""
    left = _placeholders(data)
    if left:
        keys = ", ".join(key_name(loc, data) for loc in left)
        raise ConfigError(f"{source}: {keys}: still {PLACEHOLDER}; fill in the real value")
    try:
        return EdgeConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            cause = (err.get("ctx") or {}).get("error")
            if isinstance(cause, _AtKey):
                problems.append(f"{key_name((*err['loc'], *cause.loc), data)}: {cause}")
                continue
            message = str(cause) if isinstance(cause, ValueError) else err["msg"]
            if err["type"] == "extra_forbidden":
                message = "unknown key (misspelt?)"
            problems.append(f"{key_name(err['loc'], data)}: {message}")
        raise ConfigError(f"{source}: " + "; ".join(problems)) from None


def load_config(path: Path) -> EdgeConfig:
    """Read and check gate.toml; credential files named in it are read too."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    config = parse_config(data, source=str(path))
    base = path.resolve().parent
    lanes = [
        _with_account(config.lot_id, i, lane, base, data) for i, lane in enumerate(config.lanes)
    ]
    if any(lane.password for lane in config.lanes) and _readable_by_others(path):
        log.warning(
            "%s holds broker passwords and is readable by every user: chmod 640 (or 600)", path
        )
    return config.model_copy(update={"lanes": lanes})


def _with_account(
    lot_id: str, i: int, lane: LaneConfig, base: Path, data: Mapping[str, Any]
) -> LaneConfig:
    """A lane with its username and password, read from its credentials file when it names
    one (relative to the config's folder). The file must be this gate's."""
    if lane.credentials_file is None:
        return lane
    key = key_name(("lanes", i, "credentials_file"), data)
    path = (
        lane.credentials_file
        if lane.credentials_file.is_absolute()
        else base / lane.credentials_file
    )
    try:
        creds = json.loads(path.read_text(encoding="utf-8"))
        username, password = str(creds["username"]), str(creds["password"])
        owner = (str(creds["lot_id"]), str(creds["gate_id"]))
    except FileNotFoundError:
        raise ConfigError(f"{key}: no such file {path}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{key}: {path} is not a gate credentials file of `parking mqtt config` ({exc})"
        ) from None
    if owner != (lot_id, lane.gate_id):
        raise ConfigError(
            f"{key}: {path} is the account of gate {owner[0]}/{owner[1]}, "
            f"not {lot_id}/{lane.gate_id}"
        )
    return lane.model_copy(
        update={"username": username, "password": password, "credentials_file": path}
    )


def _readable_by_others(path: Path) -> bool:
    """World-readable (a group is how the service user reads it: root:parking-edge 0640)."""
    try:
        return bool(path.stat().st_mode & stat.S_IROTH)
    except OSError:
        return False
