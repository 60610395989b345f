"""The outbox publisher waits for a batch's PUBACKs under one deadline, not one per row."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from paho.mqtt.enums import MQTTProtocolVersion
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from gateway.outbox_publisher import OutboxPublisher


@dataclass
class Clock:
    now: float = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Info:
    """A publish the broker acknowledges (``acked``) or never answers; waiting costs clock time."""

    clock: Clock
    acked: bool
    waits: list[float]

    def is_published(self) -> bool:
        return self.acked

    def wait_for_publish(self, timeout: float | None = None) -> None:
        assert timeout is not None and timeout > 0
        self.waits.append(timeout)
        if not self.acked:
            self.clock.now += timeout


@dataclass
class Client:
    clock: Clock
    answered: set[str]
    waits: list[float] = field(default_factory=list)
    protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv5

    def is_connected(self) -> bool:
        return True

    def publish(self, topic: str, payload: bytes, **_kw: Any) -> Info:
        return Info(self.clock, any(e.encode() in payload for e in self.answered), self.waits)


@dataclass
class Row:
    id: int
    payload: dict[str, Any]


def rows(n: int) -> list[Row]:
    return [
        Row(
            i,
            {
                "event_id": f"evt-{i:08d}",
                "lot_id": "L1",
                "gate_id": "G1",
                "open": True,
                "display": "ok",
                "reason": "entry_ok",
            },
        )
        for i in range(n)
    ]


def publisher(client: Client, claimed: list[Row], marked: list[int]) -> OutboxPublisher:
    return OutboxPublisher(
        sessionmaker(bind=create_engine("sqlite://")),
        client,  # type: ignore[arg-type]
        claim=lambda _s, _kind, limit: claimed[:limit],
        mark_processed=lambda _s, row_id: marked.append(row_id),
        puback_timeout_s=5.0,
        clock=client.clock,
    )


def test_a_silent_broker_costs_one_deadline_per_batch_not_one_per_row() -> None:
    clock = Clock()
    client = Client(clock, answered=set())
    marked: list[int] = []
    assert publisher(client, rows(100), marked).publish_pending() == 0
    assert marked == []  # nothing acknowledged: every row stays for the next sweep
    assert sum(client.waits) <= 5.0  # the claimed rows were held for 5 s, not 100 x 5 s
    assert clock.now <= 5.0


def test_acknowledged_rows_are_marked_and_the_rest_wait_for_the_next_sweep() -> None:
    clock = Clock()
    batch = rows(6)
    client = Client(clock, answered={str(r.payload["event_id"]) for r in batch[::2]})
    marked: list[int] = []
    assert publisher(client, batch, marked).publish_pending() == 3
    assert marked == [0, 2, 4]


def test_with_a_batch_mark_the_acknowledged_rows_are_marked_in_one_call() -> None:
    clock = Clock()
    batch = rows(6)
    client = Client(clock, answered={str(r.payload["event_id"]) for r in batch[1::2]})
    per_row: list[int] = []
    calls: list[list[int]] = []
    pub = OutboxPublisher(
        sessionmaker(bind=create_engine("sqlite://")),
        client,  # type: ignore[arg-type]
        claim=lambda _s, _kind, limit: batch[:limit],
        mark_processed=lambda _s, row_id: per_row.append(row_id),
        mark_processed_many=lambda _s, ids: calls.append(list(ids)),
        clock=client.clock,
    )
    assert pub.publish_pending() == 3
    assert (calls, per_row) == ([[1, 3, 5]], [])
