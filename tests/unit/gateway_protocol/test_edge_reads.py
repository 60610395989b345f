"""Edge reads: the gate box's n-best on the wire, and what the center does with it."""

from __future__ import annotations

import json
import struct
from typing import Any

import pytest

from edge.reader import edge_read_of
from gateway import protocol as p
from lpr.types import Hypothesis, PlateRead
from tests.unit.gateway_protocol.test_consumer_reading import (
    CROP,
    FakeReader,
    Read,
    consumer,
    event,
)


def edge(*hyps: tuple[str, float], confidence: float = 0.97) -> p.EdgeRead:
    return p.EdgeRead(
        hypotheses=tuple(p.EdgeHypothesis(text=t, p=q) for t, q in hyps),
        confidence=confidence,
        reader="rec-2026.11",
    )


def _header(payload: bytes) -> dict[str, Any]:
    (n,) = struct.unpack_from(">I", payload, 4)
    header: dict[str, Any] = json.loads(payload[8 : 8 + n])
    return header


def test_an_edge_read_round_trips_with_its_crop() -> None:
    ev = event(plate_crop=CROP, edge_read=edge(("30A-123.45", 0.96), ("30A-128.45", 0.03)))
    back = p.decode_event(p.encode_event(ev))
    assert back == ev
    assert back.edge_read is not None and back.edge_read.best.text == "30A-123.45"
    assert back.plate_crop == CROP


def test_an_event_without_an_edge_read_carries_no_such_field() -> None:
    """A gateway from before edge reads refuses unknown fields: none is sent when unused."""
    assert "edge_read" not in _header(p.encode_event(event()))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"edge_read": edge(("30A-123.45", 0.9))}, "plate crop"),  # no crop
        ({"plate_crop": CROP, "edge_read": {"hypotheses": [], "confidence": 0.5}}, "at least 1"),
        (
            {
                "plate_crop": CROP,
                "edge_read": {
                    "hypotheses": [{"text": f"30A-123.{i:02d}", "p": 0.1} for i in range(9)],
                    "confidence": 0.5,
                },
            },
            "at most 8",
        ),
        (
            {
                "plate_crop": CROP,
                "edge_read": {
                    "hypotheses": [{"text": "30A-123.45", "p": 0.7}, {"text": "A", "p": 0.4}],
                    "confidence": 0.5,
                },
            },
            "sum to more than 1",
        ),
        (
            {
                "plate_crop": CROP,
                "edge_read": {
                    "hypotheses": [{"text": "30A-123.45", "p": 0.2}, {"text": "A", "p": 0.4}],
                    "confidence": 0.5,
                },
            },
            "best first",
        ),
        (
            {
                "plate_crop": CROP,
                "edge_read": {
                    "hypotheses": [{"text": "A", "p": 0.4}, {"text": "A", "p": 0.4}],
                    "confidence": 0.5,
                },
            },
            "distinct",
        ),
        (
            {
                "plate_crop": CROP,
                "edge_read": {"hypotheses": [{"text": "A", "p": 1.5}], "confidence": 0.5},
            },
            "less than or equal to 1",
        ),
        (
            {
                "plate_crop": CROP,
                "edge_read": {"hypotheses": [{"text": "x" * 17, "p": 0.5}], "confidence": 0.5},
            },
            "at most 16",
        ),
        (
            {
                "plate_crop": CROP,
                "edge_read": {
                    "hypotheses": [{"text": "A", "p": 0.5}],
                    "confidence": 0.5,
                    "extra": 1,
                },
            },
            "Extra inputs",
        ),
    ],
)
def test_malformed_edge_reads_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        event(**fields)


def test_a_forged_edge_read_on_the_wire_is_refused_with_a_code() -> None:
    good = p.encode_event(event(plate_crop=CROP, edge_read=edge(("30A-123.45", 0.9))))
    forged = good.replace(b'"p":0.9', b'"p":9.0')  # same length: only the value is wrong
    assert _header(forged)["edge_read"]["hypotheses"][0]["p"] == 9.0
    with pytest.raises(p.ProtocolError) as err:
        p.decode_event(forged)
    assert err.value.code == "invalid"


async def test_a_conclusive_edge_read_is_trusted_without_reading() -> None:
    reader = FakeReader({})
    got = await consumer(reader)._read(
        event(plate_crop=CROP, edge_read=edge(("30A-123.45", 0.97), ("30A-128.45", 0.02)))
    )
    assert got == ("30A-123.45", 0.97, False)
    assert reader.calls == []


async def test_a_doubtful_edge_read_is_read_again_from_the_crop_only() -> None:
    reader = FakeReader({"frame": Read("30A-128.45", 0.99, True)})
    ev = event(plate_crop=CROP, edge_read=edge(("30A-123.45", 0.6), ("30A-128.45", 0.35)))
    assert await consumer(reader)._read(ev) == ("30A-128.45", 0.99, False)
    assert reader.calls == [((CROP,), "frame")]  # the crop, never the frames


async def test_a_low_confidence_edge_read_is_doubtful_even_with_a_sure_best() -> None:
    reader = FakeReader({"frame": Read("30A-123.45", 0.98, True)})
    ev = event(plate_crop=CROP, edge_read=edge(("30A-123.45", 0.99), confidence=0.5))
    assert await consumer(reader)._read(ev) == ("30A-123.45", 0.98, False)
    assert len(reader.calls) == 1


async def test_when_neither_read_is_sure_the_likelier_goes_to_review() -> None:
    ev = event(plate_crop=CROP, edge_read=edge(("30A-123.45", 0.6), confidence=0.6))
    unsure = FakeReader({"frame": Read("30A-123.46", 0.7, False)})
    assert await consumer(unsure)._read(ev) == ("30A-123.46", 0.7, True)
    less = FakeReader({"frame": Read("30A-123.46", 0.3, False)})
    assert await consumer(less)._read(ev) == ("30A-123.45", 0.6, True)
    broken = FakeReader({"frame": ValueError("corrupt JPEG")})
    assert await consumer(broken)._read(ev) == ("30A-123.45", 0.6, True)
    assert await consumer(None)._read(ev) == ("30A-123.45", 0.6, True)


def _read(*hyps: tuple[str, float], text: str | None = "30A-123.45") -> PlateRead:
    return PlateRead(
        text=text,
        key=text.replace("-", "").replace(".", "") if text else None,
        confidence=0.93,
        auto_ok=True,
        kind="car",
        lines=1,
        bbox=None,
        hypotheses=tuple(Hypothesis(t, t, lp) for t, lp in hyps),
    )


def test_edge_read_of_turns_likelihoods_into_ranked_probabilities() -> None:
    got = edge_read_of(_read(("30A-128.45", -9.0), ("30A-123.45", -2.0), ("30A-123.46", -5.0)))
    assert got is not None
    assert [h.text for h in got.hypotheses] == ["30A-123.45", "30A-123.46", "30A-128.45"]
    assert got.hypotheses[0].p == pytest.approx(0.952, abs=1e-3)
    assert sum(h.p for h in got.hypotheses) <= 1.0
    assert got.confidence == 0.93
    # it is a valid wire read: it rides in an event
    assert event(plate_crop=CROP, edge_read=got).edge_read == got


def test_edge_read_of_nothing_read_is_none_and_the_n_best_is_bounded() -> None:
    assert edge_read_of(_read(text=None)) is None
    assert edge_read_of(_read()) is None  # no hypotheses
    many = edge_read_of(_read(*((f"30A-123.{i:02d}", -float(i)) for i in range(12))))
    assert many is not None and len(many.hypotheses) == p.MAX_EDGE_HYPOTHESES
