"""The wire format between gates and the gateway: topics, gate events, barrier commands, status.

This is the one module of ``gateway`` the simulator (and a real gate's firmware) may import.

Frame encoding: a gate event carries 1-5 JPEG frames (tens to hundreds of kilobytes each), so
the payload is a small documented binary framing rather than JSON with base64 or MQTT v5 user
properties::

    offset 0   4 bytes   magic b"PKE" + protocol version byte (0x01)
    offset 4   4 bytes   header length H, unsigned big-endian
    offset 8   H bytes   UTF-8 JSON header: the event's fields and ``parts``, the byte length of
                         every binary part in order ([frame, frame, ..., crop?])
    offset 8+H           the parts, concatenated, nothing after them

Why: JPEG is already compressed, and base64 would add a third to every event and cost CPU on
both sides; user properties exist only in MQTT v5, while the embedded demo broker (amqtt) and
many bridges speak 3.1.1, so a self-contained payload works on every broker; and the gate's
offline buffer can store the exact bytes and replay them verbatim. The decoder checks every
declared length against the limits before slicing, so an oversized or truncated payload is
refused without copying it. Barrier commands and gate status are small: plain JSON.

Every message carries ``v`` (the protocol version); a decoder refuses versions it does not know.
"""

from __future__ import annotations

import json
import re
import struct
from datetime import UTC, datetime
from itertools import pairwise
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

PROTOCOL_VERSION: Final = 1
EVENT_MAGIC = b"PKE" + bytes([PROTOCOL_VERSION])
MAX_FRAMES = 5
MAX_FRAME_BYTES = 1024 * 1024
MAX_CROP_BYTES = 256 * 1024
MAX_HEADER_BYTES = 16 * 1024
# The one size limit of a gate event, end to end: a gate never encodes a larger one (encode_event
# refuses it, and the edge shrinks or refuses a capture that would not fit), the consumer's
# decoder refuses anything larger, and the MQTT packet limits of the consumer (its v5 Maximum
# Packet Size) and of the broker (``max_packet_size`` in the generated Mosquitto config) are
# this plus the PUBLISH packet's own overhead. Five 1 MiB frames are each valid, yet together
# they do not fit: the total is what counts.
MAX_EVENT_BYTES = 4 * 1024 * 1024
# What the frames and the crop of one event may add up to: the event less the largest header.
MAX_PARTS_BYTES = MAX_EVENT_BYTES - 8 - MAX_HEADER_BYTES
# A PUBLISH packet's fixed header (at most 5 bytes), topic (a gate topic is under 160 bytes),
# packet id and v5 properties fit in 4 KiB.
PUBLISH_OVERHEAD_BYTES = 4096
MAX_EVENT_PACKET_BYTES = MAX_EVENT_BYTES + PUBLISH_OVERHEAD_BYTES
MAX_SMALL_MESSAGE_BYTES = 8 * 1024
# An edge read's n-best (lpr.PlateRead.hypotheses holds up to 8).
MAX_EDGE_HYPOTHESES = 8
# No offline credit or fare is anywhere near this: a bound, not a business rule.
MAX_OFFLINE_VND = 100_000_000
JPEG_SOI = b"\xff\xd8\xff"

# Lot and gate ids are topic segments: no MQTT wildcards, no separators, short.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_ID_RE = re.compile(ID_PATTERN)
_TOPIC_RE = re.compile(
    r"^lots/(?P<lot>[A-Za-z0-9][A-Za-z0-9_.-]{0,63})/gates/"
    r"(?P<gate>[A-Za-z0-9][A-Za-z0-9_.-]{0,63})/(?P<kind>events|commands|status)$"
)
_HEADER_LEN = struct.Struct(">I")

Id = Annotated[str, Field(pattern=ID_PATTERN)]
Direction = Literal["entry", "exit"]
TopicKind = Literal["events", "commands", "status"]


class ProtocolError(ValueError):
    """A message that does not follow this protocol; ``code`` is stable for logs and metrics."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


# --- topics -------------------------------------------------------------------------------


def _check_id(value: str, what: str) -> str:
    if not _ID_RE.fullmatch(value):
        raise ProtocolError("bad_id", f"{what} {value!r} is not a valid topic segment")
    return value


def topic(lot_id: str, gate_id: str, kind: TopicKind) -> str:
    return f"lots/{_check_id(lot_id, 'lot')}/gates/{_check_id(gate_id, 'gate')}/{kind}"


def events_topic(lot_id: str, gate_id: str) -> str:
    return topic(lot_id, gate_id, "events")


def commands_topic(lot_id: str, gate_id: str) -> str:
    return topic(lot_id, gate_id, "commands")


def status_topic(lot_id: str, gate_id: str) -> str:
    return topic(lot_id, gate_id, "status")


def allowlist_topic(lot_id: str) -> str:
    """The lot's signed allow-list (retained; the ACL lets only that lot's gates read it)."""
    return f"lots/{_check_id(lot_id, 'lot')}/allowlist"


def topic_filter(kind: TopicKind, lot_id: str = "+", gate_id: str = "+") -> str:
    """A subscription filter; ``+`` (the default) matches every lot or gate."""
    lot = lot_id if lot_id == "+" else _check_id(lot_id, "lot")
    gate = gate_id if gate_id == "+" else _check_id(gate_id, "gate")
    return f"lots/{lot}/gates/{gate}/{kind}"


def parse_topic(name: str) -> tuple[str, str, TopicKind]:
    """``lots/L/gates/G/kind`` -> (L, G, kind); ProtocolError for anything else."""
    m = _TOPIC_RE.fullmatch(name)
    if not m:
        raise ProtocolError("bad_topic", f"unexpected topic {name!r}")
    kind: TopicKind = m["kind"]  # type: ignore[assignment]
    return m["lot"], m["gate"], kind


# --- messages -------------------------------------------------------------------------------


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamps must carry a UTC offset")
    return value


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


class EdgeHypothesis(_Message):
    """One plate the edge's read may be, with its probability."""

    text: Annotated[str, Field(min_length=1, max_length=16)]
    p: Annotated[float, Field(ge=0.0, le=1.0)]


class EdgeRead(_Message):
    """The gate box's own plate read (``edge.reader.edge_read_of``): its n-best, best first,
    with probabilities (they sum to at most 1: the rest is "none of these"), the read's
    calibrated ``confidence``, and the reader that made it. It travels with the plate crop it
    was read from, which the center reads again when the edge's read is not conclusive."""

    hypotheses: tuple[EdgeHypothesis, ...] = Field(min_length=1, max_length=MAX_EDGE_HYPOTHESES)
    confidence: Annotated[float, Field(ge=0.0, le=1.0)]
    reader: str = Field(default="", max_length=64)

    @field_validator("hypotheses")
    @classmethod
    def _ranked(cls, hyps: tuple[EdgeHypothesis, ...]) -> tuple[EdgeHypothesis, ...]:
        if sum(h.p for h in hyps) > 1.0 + 1e-6:
            raise ValueError("the hypotheses' probabilities sum to more than 1")
        if any(a.p < b.p for a, b in pairwise(hyps)):
            raise ValueError("hypotheses must be ordered by probability, best first")
        if len({h.text for h in hyps}) != len(hyps):
            raise ValueError("hypotheses must be distinct plates")
        return hyps

    @property
    def best(self) -> EdgeHypothesis:
        return self.hypotheses[0]


OfflineReason = Literal[
    "allowlisted",  # entry: the plate is on the signed allow-list
    "credit_covers",  # exit: the plate's offline credit covers the lot's maximum fare
    "not_allowlisted",
    "credit_short",
    "unreadable",
    "no_allowlist",  # none received, or too old to trust
]


class OfflineDecision(_Message):
    """What the edge decided alone, the center not answering in time (``decided_offline``).

    ``credit_vnd`` is the plate's remaining offline credit before this passage and ``fare_vnd``
    what the edge deducted locally (the lot's maximum fare, at an exit it opened): billing
    honours the open barrier and may overdraw the account down to that credit, never below.
    """

    open: bool
    reason: OfflineReason
    decided_at: datetime
    plate_key: Annotated[str, Field(pattern=r"^[0-9A-Z]{4,12}$")] | None = None
    allowlist_version: Annotated[int, Field(ge=0)] | None = None
    credit_vnd: Annotated[int, Field(ge=0, le=MAX_OFFLINE_VND)] | None = None
    fare_vnd: Annotated[int, Field(ge=0, le=MAX_OFFLINE_VND)] | None = None

    _check_time = field_validator("decided_at")(_aware)


class GateEvent(_Message):
    """A vehicle at a lane: the camera's frames and, if the camera reads plates, its reading.

    ``edge_read``: the gate box read the plate itself; the event then carries the plate crop
    the read came from (``plate_crop``), so the center can read a doubtful one again.
    ``decided_offline``: the edge moved the barrier itself (or kept it closed) because no
    decision came in time; ``offline`` says what it decided. Left out of the wire when unset.
    """

    v: Literal[1] = PROTOCOL_VERSION
    event_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{8,64}$")]
    lot_id: Id
    gate_id: Id
    direction: Direction
    captured_at: datetime
    frames: tuple[bytes, ...] = Field(min_length=1, max_length=MAX_FRAMES)
    plate_crop: bytes | None = None
    plate_text: Annotated[str, Field(min_length=1, max_length=16)] | None = None
    plate_confidence: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    # The agent's per-lane sequence number: lets anyone check a lane's order after replays.
    seq: Annotated[int, Field(ge=0)] | None = None
    edge_read: EdgeRead | None = None
    decided_offline: bool | None = None
    offline: OfflineDecision | None = None

    _check_time = field_validator("captured_at")(_aware)

    @model_validator(mode="after")
    def _offline_together(self) -> GateEvent:
        if bool(self.decided_offline) != (self.offline is not None):
            raise ValueError("decided_offline and offline go together")
        return self

    @field_validator("frames")
    @classmethod
    def _frames_are_jpeg(cls, frames: tuple[bytes, ...]) -> tuple[bytes, ...]:
        for i, frame in enumerate(frames):
            if len(frame) > MAX_FRAME_BYTES:
                raise ValueError(f"frame {i} is {len(frame)} bytes (limit {MAX_FRAME_BYTES})")
            if not frame.startswith(JPEG_SOI):
                raise ValueError(f"frame {i} is not a JPEG")
        return frames

    @field_validator("plate_crop")
    @classmethod
    def _crop_is_jpeg(cls, crop: bytes | None) -> bytes | None:
        if crop is not None:
            if len(crop) > MAX_CROP_BYTES:
                raise ValueError(f"plate crop is {len(crop)} bytes (limit {MAX_CROP_BYTES})")
            if not crop.startswith(JPEG_SOI):
                raise ValueError("plate crop is not a JPEG")
        return crop

    @model_validator(mode="after")
    def _edge_read_with_crop(self) -> GateEvent:
        if self.edge_read is not None and self.plate_crop is None:
            raise ValueError("an edge read travels with the plate crop it was read from")
        return self

    @model_validator(mode="after")
    def _fits_one_event(self) -> GateEvent:
        total = sum(len(f) for f in self.frames) + len(self.plate_crop or b"")
        if total > MAX_PARTS_BYTES:
            raise ValueError(
                f"frames and crop are {total} bytes together (limit {MAX_PARTS_BYTES} for an "
                f"event of at most {MAX_EVENT_BYTES} bytes)"
            )
        return self

    @property
    def topic(self) -> str:
        return events_topic(self.lot_id, self.gate_id)


class BarrierCommand(_Message):
    """The gateway's answer to one event: open or stay closed, and what the display shows."""

    v: Literal[1] = PROTOCOL_VERSION
    event_id: str = Field(min_length=1, max_length=64)
    lot_id: Id
    gate_id: Id
    open: bool
    display: str = Field(max_length=200)
    reason: str = Field(max_length=64)
    plate: str | None = Field(default=None, max_length=16)
    fare_vnd: int | None = None
    balance_vnd: int | None = None
    issued_at: datetime

    _check_time = field_validator("issued_at")(_aware)

    @property
    def topic(self) -> str:
        return commands_topic(self.lot_id, self.gate_id)


class GateStatus(_Message):
    """Retained per gate; the broker publishes the offline form as the gate's last will.

    ``at`` is the time of the connection the report belongs to (the will and that connection's
    "online" carry the same), not of the report: a gate republishes its status while connected
    as its counts change, under the same ``at``. ``buffered``: captured events not yet sent.
    ``unanswered`` (optional, newer gates): events sent and still waiting for their decision,
    which the gate keeps resending; ``oldest_unanswered_s``: how long the oldest of them has
    waited since it was first sent, measured by the gate when it published the report (so no
    clock skew between gate and gateway enters it).

    Unknown fields are ignored (not refused, unlike events and commands): a status is a report,
    and a gateway that does not know a newer gate's field must still see the gate online.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    v: Literal[1] = PROTOCOL_VERSION
    lot_id: Id
    gate_id: Id
    online: bool
    at: datetime
    buffered: Annotated[int, Field(ge=0)] = 0
    unanswered: Annotated[int, Field(ge=0)] | None = None
    oldest_unanswered_s: Annotated[float, Field(ge=0.0)] | None = None
    # Newer edges: the gate decides alone now (the center did not answer in time), and how
    # many of its events decided offline still wait for the center.
    deciding_offline: bool | None = None
    offline_pending: Annotated[int, Field(ge=0)] | None = None

    _check_time = field_validator("at")(_aware)

    @property
    def topic(self) -> str:
        return status_topic(self.lot_id, self.gate_id)


# --- encoding -------------------------------------------------------------------------------


def encode_event(event: GateEvent) -> bytes:
    """The event's bytes; ProtocolError ``too_large`` rather than an event over the limit."""
    parts = list(event.frames)
    if event.plate_crop is not None:
        parts.append(event.plate_crop)
    # Optional parts left out when unset: a gateway from before edge reads or offline
    # decisions refuses fields it does not know.
    skip = {"frames", "plate_crop"} | ({"edge_read"} if event.edge_read is None else set())
    if event.offline is None:
        skip |= {"decided_offline", "offline"}
    header = event.model_dump(mode="json", exclude=skip)
    header["parts"] = [len(p) for p in parts]
    header["crop"] = event.plate_crop is not None
    head = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    size = 8 + len(head) + sum(len(p) for p in parts)
    if size > MAX_EVENT_BYTES or len(head) > MAX_HEADER_BYTES:
        raise ProtocolError("too_large", f"event is {size} bytes (limit {MAX_EVENT_BYTES})")
    return b"".join([EVENT_MAGIC, _HEADER_LEN.pack(len(head)), head, *parts])


def decode_event(payload: bytes, max_bytes: int = MAX_EVENT_BYTES) -> GateEvent:
    """Parse and validate a gate event; ProtocolError says what was wrong."""
    if len(payload) > max_bytes:
        raise ProtocolError("too_large", f"event is {len(payload)} bytes (limit {max_bytes})")
    if len(payload) < 8:
        raise ProtocolError("truncated", "event shorter than its fixed header")
    if payload[:3] != EVENT_MAGIC[:3]:
        raise ProtocolError("bad_magic", "not a gate event")
    if payload[3] != PROTOCOL_VERSION:
        raise ProtocolError("bad_version", f"unsupported protocol version {payload[3]}")
    (head_len,) = _HEADER_LEN.unpack_from(payload, 4)
    if head_len > MAX_HEADER_BYTES or 8 + head_len > len(payload):
        raise ProtocolError("bad_header", f"header length {head_len} out of bounds")
    view = memoryview(payload)
    try:
        header = json.loads(str(view[8 : 8 + head_len], "utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError("bad_header", f"header is not UTF-8 JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ProtocolError("bad_header", "header is not a JSON object")
    sizes = header.pop("parts", None)
    has_crop = header.pop("crop", False)
    if (
        not isinstance(sizes, list)
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in sizes)
        or not isinstance(has_crop, bool)
    ):
        raise ProtocolError("bad_header", "parts must be a list of byte lengths")
    n_frames = len(sizes) - (1 if has_crop else 0)
    if not 1 <= n_frames <= MAX_FRAMES:
        raise ProtocolError("bad_frames", f"{n_frames} frames (expected 1-{MAX_FRAMES})")
    # Every declared length against its limit first: nothing is sliced or copied for a part
    # that would be refused anyway.
    for i, n in enumerate(sizes[:n_frames]):
        if n > MAX_FRAME_BYTES:
            raise ProtocolError(
                "frame_too_large", f"frame {i} declares {n} bytes (limit {MAX_FRAME_BYTES})"
            )
    if has_crop and sizes[-1] > MAX_CROP_BYTES:
        raise ProtocolError(
            "crop_too_large", f"plate crop declares {sizes[-1]} bytes (limit {MAX_CROP_BYTES})"
        )
    if 8 + head_len + sum(sizes) != len(payload):
        raise ProtocolError("bad_length", "declared part lengths do not match the payload")
    offset = 8 + head_len
    parts: list[bytes] = []
    for n in sizes:
        parts.append(bytes(view[offset : offset + n]))
        offset += n
    header["frames"] = tuple(parts[:n_frames])
    header["plate_crop"] = parts[n_frames] if has_crop else None
    return _validated(GateEvent, header)


def offline_event_id(payload: bytes) -> str | None:
    """The event id of a gate event the edge decided offline (``decided_offline`` in its
    header), read from the header alone; None for any other payload (never raises).

    The consumer uses it to spot, among the events queued for a lane, the copy of an event on
    which the edge recorded its own decision while the original still waits to be settled.
    """
    if len(payload) < 8 or payload[:4] != EVENT_MAGIC:
        return None
    (head_len,) = _HEADER_LEN.unpack_from(payload, 4)
    head = payload[8 : 8 + min(head_len, MAX_HEADER_BYTES)]
    if b'"decided_offline":true' not in head:
        return None
    try:
        header = json.loads(head)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    event_id = header.get("event_id") if isinstance(header, dict) else None
    return event_id if isinstance(event_id, str) and header.get("decided_offline") is True else None


def _validated(model: type[Any], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ProtocolError("invalid", f"{where}: {first.get('msg')}") from None


def _encode_json(message: _Message) -> bytes:
    return message.model_dump_json().encode()


def _decode_json(model: type[Any], payload: bytes) -> Any:
    if len(payload) > MAX_SMALL_MESSAGE_BYTES:
        raise ProtocolError("too_large", f"message is {len(payload)} bytes")
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError("bad_json", str(exc)) from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_json", "expected a JSON object")
    if data.get("v") != PROTOCOL_VERSION:
        raise ProtocolError("bad_version", f"unsupported protocol version {data.get('v')!r}")
    return _validated(model, data)


def encode_command(command: BarrierCommand) -> bytes:
    return _encode_json(command)


def decode_command(payload: bytes) -> BarrierCommand:
    result: BarrierCommand = _decode_json(BarrierCommand, payload)
    return result


def encode_status(status: GateStatus) -> bytes:
    """Optional fields that are not set are left out: an older gateway (which refuses fields it
    does not know) still reads the status of a gate that reports no unanswered events."""
    return status.model_dump_json(exclude_none=True).encode()


def decode_status(payload: bytes) -> GateStatus:
    result: GateStatus = _decode_json(GateStatus, payload)
    return result


def now() -> datetime:
    return datetime.now(UTC)
