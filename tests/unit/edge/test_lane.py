"""The lane without a broker: its sender outlives whatever the link raises, and a decision ends
an event's resending whatever its age, but moves the barrier only while it is fresh."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from edge.fit import CaptureRefused
from edge.lane import Lane, LaneConfig
from edge.link import Sent
from gateway.protocol import BarrierCommand, encode_command
from simulator.cameras import TinyCamera


@pytest.fixture()
def lane(tmp_path: Path) -> Iterator[Lane]:
    moved: list[str] = []
    lane = Lane(
        LaneConfig("L1", "out-1", "exit", tmp_path / "lane.sqlite", port=1),  # never connects
        TinyCamera(),
        on_command=lambda c: moved.append(c.event_id),
    )
    lane.moved = moved  # type: ignore[attr-defined]
    yield lane
    lane._stopping.set()
    lane._sender.join(5)
    lane._buffer.close()


def command(event_id: str, issued_at: datetime | None = None, **kw: Any) -> bytes:
    fields: dict[str, Any] = {
        "event_id": event_id,
        "lot_id": "L1",
        "gate_id": "out-1",
        "open": True,
        "display": "OK",
        "reason": "exit_paid",
        "fare_vnd": 25_000,
        "issued_at": issued_at or datetime.now(UTC),
    }
    fields.update(kw)
    return encode_command(BarrierCommand(**fields))


def test_the_sender_outlives_an_exception_from_the_link(lane: Lane) -> None:
    """paho's ``is_published()`` raised RuntimeError after a dropped connection and killed the
    sender thread for good: the gate kept capturing and never sent again."""
    calls: list[bytes] = []

    def publish(payload: bytes, timeout: float) -> tuple[Sent, str]:
        calls.append(payload)
        if len(calls) == 1:
            raise RuntimeError("Message publish failed: The client is not currently connected.")
        return Sent.ACKNOWLEDGED, "Success"

    lane._link.publish_event = publish  # type: ignore[method-assign]
    lane._link.publish_status = lambda: None  # type: ignore[method-assign]
    lane._link.connected.set()
    lane._sender.start()
    first = lane.capture("30A-111.11", camera_text=True)
    second = lane.capture("30A-222.22", camera_text=True)
    deadline = time.monotonic() + 10
    while lane.backlog() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert lane.backlog() == 0 and lane.sender_failures == 1
    assert lane._sender.alive
    assert lane.unanswered() == [first.event_id, second.event_id]  # sent, not yet decided


def test_a_decision_ends_resending_but_moves_the_barrier_only_while_fresh(
    lane: Lane, tmp_path: Path
) -> None:
    fresh, stale, old_car = (lane.capture(f"30A-00{i}.00", camera_text=True) for i in range(3))
    with sqlite3.connect(tmp_path / "lane.sqlite") as db:  # captured 5 minutes ago
        db.execute(
            "UPDATE events SET buffered_at = buffered_at - 300 WHERE event_id = ?",
            (old_car.event_id,),
        )
    lane._on_command(command(fresh.event_id))
    lane._on_command(command(stale.event_id, datetime.now(UTC) - timedelta(minutes=5)))
    lane._on_command(command(old_car.event_id))  # a fresh answer to a copy resent late
    lane._on_command(command(fresh.event_id, display="again"))  # a repeat changes nothing
    lane._on_command(command("not-mine-0001"))
    lane._on_command(command(fresh.event_id, gate_id="out-2"))
    lane._on_command(b"{not json")
    assert lane.unanswered() == []
    assert {e: d.actuated for e, d in lane.decisions.items()} == {
        fresh.event_id: True, stale.event_id: False, old_car.event_id: False
    }  # fmt: skip
    assert lane.moved == [fresh.event_id]  # type: ignore[attr-defined]
    assert lane.decision(fresh.event_id).display == "OK"  # type: ignore[union-attr]
    assert [(e, o) for e, o, _ in lane.barrier_log()] == [
        (fresh.event_id, True), (stale.event_id, True), (old_car.event_id, True)
    ]  # fmt: skip


def test_a_capture_that_cannot_be_an_event_is_refused_and_nothing_is_buffered(
    lane: Lane, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(CaptureRefused):
        lane.capture("30A-111.11", frames=[b"GIF89a"])
    with pytest.raises(CaptureRefused):
        lane.capture("a plate text far too long", camera_text=True)
    event = lane.capture("30A-111.11", camera_text=True, event_id="evt-same-0001")
    with pytest.raises(CaptureRefused, match="used before"):
        lane.capture("30A-111.11", camera_text=True, event_id=event.event_id)
    assert lane.unanswered() == [event.event_id]
    refusals = [r for r in caplog.records if "refused a capture" in r.getMessage()]
    assert len(refusals) == 3


def test_the_edge_read_travels_with_its_crop(lane: Lane) -> None:
    from gateway.protocol import EdgeHypothesis, EdgeRead

    read = EdgeRead(hypotheses=(EdgeHypothesis(text="30A-111.11", p=0.97),), confidence=0.96)
    crop = b"\xff\xd8\xff\xe0crop"
    event = lane.capture("30A-111.11", plate_crop=crop, edge_read=read)
    assert event.edge_read == read and event.plate_crop == crop
    assert lane.unanswered() == [event.event_id]
    # a read whose crop is missing cannot travel: the event goes without it, frames only
    bare = lane.capture("30A-111.11", frames=[b"\xff\xd8\xff\xe0f"], edge_read=read)
    assert bare.edge_read is None and bare.plate_crop is None
    assert lane.unanswered() == [event.event_id, bare.event_id]
