"""The gate wire format: round trips, strict validation, size limits."""

from __future__ import annotations

import contextlib
import json
import struct
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway import protocol as p

JPEG = b"\xff\xd8\xff\xe0" + b"x" * 100


def event(**kw: object) -> p.GateEvent:
    fields: dict[str, object] = {
        "event_id": "evt-0001-abcdef",
        "lot_id": "HN-HK-01",
        "gate_id": "in-1",
        "direction": "entry",
        "captured_at": datetime(2026, 11, 23, 8, 0, tzinfo=timezone(timedelta(hours=7))),
        "frames": (JPEG, JPEG + b"2"),
    }
    fields.update(kw)
    return p.GateEvent(**fields)  # type: ignore[arg-type]


def test_event_round_trip_keeps_frames_crop_and_text() -> None:
    e = event(plate_crop=JPEG + b"crop", plate_text="30A-123.45", plate_confidence=0.9, seq=7)
    payload = p.encode_event(e)
    assert payload[:4] == b"PKE\x01"
    back = p.decode_event(payload)
    assert back == e
    assert back.frames[1].endswith(b"2")
    assert back.plate_crop is not None and back.plate_crop.endswith(b"crop")
    assert back.captured_at.utcoffset() == timedelta(hours=7)


def test_binary_framing_has_no_base64_overhead() -> None:
    big = b"\xff\xd8\xff" + bytes(range(256)) * 400
    payload = p.encode_event(event(frames=(big, big, big)))
    assert len(payload) - 3 * len(big) < 400


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda b: b[:6], "truncated"),
        (lambda b: b"XYZ" + b[3:], "bad_magic"),
        (lambda b: b[:3] + b"\x02" + b[4:], "bad_version"),
        (lambda b: b[:-1], "bad_length"),
        (lambda b: b + b"junk", "bad_length"),
        (lambda b: b[:4] + struct.pack(">I", 10**6) + b[8:], "bad_header"),
        (lambda b: b[:8] + b"\xff" + b[9:], "bad_header"),
    ],
)
def test_malformed_events_are_refused_with_a_code(
    mutate: Callable[[bytes], bytes], code: str
) -> None:
    payload = p.encode_event(event())
    with pytest.raises(p.ProtocolError) as info:
        p.decode_event(mutate(payload))
    assert info.value.code == code


def test_oversized_event_refused_before_parsing() -> None:
    payload = p.encode_event(event())
    with pytest.raises(p.ProtocolError) as info:
        p.decode_event(payload, max_bytes=len(payload) - 1)
    assert info.value.code == "too_large"


def test_frame_limits_and_jpeg_check() -> None:
    with pytest.raises(ValueError):
        event(frames=())
    with pytest.raises(ValueError):
        event(frames=(JPEG,) * 6)
    with pytest.raises(ValueError, match="not a JPEG"):
        event(frames=(b"\x89PNG....",))
    with pytest.raises(ValueError, match="limit"):
        event(frames=(b"\xff\xd8\xff" + b"0" * p.MAX_FRAME_BYTES,))


def test_naive_time_wildcard_ids_and_unknown_fields_refused() -> None:
    with pytest.raises(ValueError):
        event(captured_at=datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        event(gate_id="in/1")
    with pytest.raises(ValueError):
        event(lot_id="+")
    with pytest.raises(ValueError):
        event(direction="sideways")
    payload = p.encode_event(event())
    head_len = struct.unpack(">I", payload[4:8])[0]
    header = payload[8 : 8 + head_len].replace(b'"v":1', b'"v":1,"extra":true')
    forged = payload[:4] + struct.pack(">I", len(header)) + header + payload[8 + head_len :]
    with pytest.raises(p.ProtocolError) as info:
        p.decode_event(forged)
    assert info.value.code == "invalid"


def test_topics_parse_and_refuse_foreign_names() -> None:
    assert p.events_topic("L1", "G1") == "lots/L1/gates/G1/events"
    assert p.parse_topic("lots/L1/gates/G1/commands") == ("L1", "G1", "commands")
    assert p.topic_filter("events") == "lots/+/gates/+/events"
    for bad in (
        "lots/L1/gates/G1/other",
        "lots/L1/G1/events",
        "x/lots/L1/gates/G1/events",
        "lots/L1/gates/G1/events\n",
    ):
        with pytest.raises(p.ProtocolError):
            p.parse_topic(bad)
    # "$" alone would let a trailing newline through, into config files and topics
    for lot in ("L#", "L1\n", "L1\nuser admin"):
        with pytest.raises(p.ProtocolError):
            p.events_topic(lot, "G1")


def test_command_and_status_round_trip_and_versioning() -> None:
    cmd = p.BarrierCommand(
        event_id="evt-1",
        lot_id="L1",
        gate_id="out-1",
        open=True,
        display="30A12345 - 25.000 VND - so du 475.000",
        reason="paid",
        plate="30A12345",
        fare_vnd=25000,
        balance_vnd=475000,
        issued_at=datetime.now(UTC),
    )
    assert p.decode_command(p.encode_command(cmd)) == cmd
    status = p.GateStatus(lot_id="L1", gate_id="G1", online=False, at=datetime.now(UTC))
    assert p.decode_status(p.encode_status(status)) == status
    with pytest.raises(p.ProtocolError) as info:
        p.decode_command(p.encode_command(cmd).replace(b'"v":1', b'"v":9'))
    assert info.value.code == "bad_version"
    with pytest.raises(p.ProtocolError):
        p.decode_status(b"not json")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_crash_the_decoder(data: bytes) -> None:
    for candidate in (data, b"PKE\x01" + data):
        with contextlib.suppress(p.ProtocolError):
            p.decode_event(candidate)


def _forged(parts: list[int], crop: bool, body: bytes) -> bytes:
    """An event whose header declares ``parts`` (byte lengths), followed by ``body``."""
    payload = p.encode_event(event())
    head_len = struct.unpack(">I", payload[4:8])[0]
    header = json.loads(payload[8 : 8 + head_len])
    header.update(parts=parts, crop=crop)
    head = json.dumps(header).encode()
    return payload[:4] + struct.pack(">I", len(head)) + head + body


@pytest.mark.parametrize(
    ("parts", "crop", "code"),
    [
        ([2 * 1024 * 1024], False, "frame_too_large"),
        ([100, 2 * 1024 * 1024], False, "frame_too_large"),
        ([100, 300 * 1024], True, "crop_too_large"),
    ],
)
def test_declared_part_over_its_limit_is_refused_before_any_copy(
    parts: list[int], crop: bool, code: str
) -> None:
    """The whole 2 MB is really there (under the 4 MiB event limit): still nothing is copied."""
    payload = _forged(parts, crop, b"\xff\xd8\xff" + b"\0" * (sum(parts) - 3))
    tracemalloc.start()
    try:
        with pytest.raises(p.ProtocolError) as info:
            p.decode_event(payload)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.code == code
    assert peak < 64 * 1024  # no part was sliced out of the payload


def test_a_header_alone_declaring_a_huge_frame_names_the_frame() -> None:
    with pytest.raises(p.ProtocolError) as info:
        p.decode_event(_forged([2 * 1024 * 1024], False, b""))
    assert info.value.code == "frame_too_large"


def test_one_size_limit_from_gate_to_broker_to_consumer(tmp_path: object) -> None:
    """Five frames of 1 MiB are each valid but not together; whatever is valid fits the
    consumer's packet limit, and the generated broker config takes exactly that."""
    from pathlib import Path

    from gateway.mosquitto_conf import broker_config
    from gateway.mqtt.client import packet_limit

    frame = b"\xff\xd8\xff" + b"0" * (p.MAX_FRAME_BYTES - 3)
    with pytest.raises(ValueError, match="together"):
        event(frames=(frame,) * p.MAX_FRAMES)
    fits = (p.MAX_PARTS_BYTES - p.MAX_CROP_BYTES) // 4 - 3
    largest = event(
        frames=(b"\xff\xd8\xff" + b"1" * fits,) * 4,
        plate_crop=b"\xff\xd8\xff" + b"2" * (p.MAX_CROP_BYTES - 3),
        plate_text="30A-123.45",
        plate_confidence=0.5,
        seq=10**12,
    )
    assert len(p.encode_event(largest)) <= p.MAX_EVENT_BYTES
    assert packet_limit(p.MAX_EVENT_BYTES) == p.MAX_EVENT_PACKET_BYTES
    conf = broker_config(Path("/tmp/x"), port=1883)
    assert f"max_packet_size {p.MAX_EVENT_PACKET_BYTES}\n" in conf
    # An event made by some other encoder that is larger than the limit is refused by decoding.
    over = p.encode_event(event())
    with pytest.raises(p.ProtocolError) as info:
        p.decode_event(over + b"x" * p.MAX_EVENT_BYTES)
    assert info.value.code == "too_large"


def test_encoding_refuses_an_event_over_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(p, "MAX_EVENT_BYTES", 200)
    with pytest.raises(p.ProtocolError) as info:
        p.encode_event(event())
    assert info.value.code == "too_large"
