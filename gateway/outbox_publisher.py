"""Publishes barrier commands written by the settle transaction to the outbox.

The decision and its command are committed together; publishing afterwards from the outbox
means a crash between commit and publish only delays the command (the next sweep sends it), it
never loses it. A row is marked processed only after the broker acknowledged the command
(QoS 1 PUBACK), inside the claiming transaction, so with PostgreSQL several gateways can sweep
at once (the claim uses ``FOR UPDATE SKIP LOCKED``). The batch waits for its PUBACKs under one
deadline (``puback_timeout_s``), not one timeout per row: the claimed rows stay locked until the
transaction ends, and the unacknowledged ones simply wait for the next sweep. Commands carry a
v5 Message Expiry Interval: the broker drops one still queued for a gate that has been offline
longer than that, so a gate back from an outage does not open for cars long gone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from sqlalchemy.orm import Session, sessionmaker

from billing.domain.events import BARRIER_COMMAND, BarrierDecided
from gateway.logging import passage_context
from gateway.metrics import Metrics
from gateway.mqtt.client import QOS, expiring
from gateway.protocol import BarrierCommand, ProtocolError, encode_command, now

log = logging.getLogger(__name__)

BARRIER_KIND = BARRIER_COMMAND


class OutboxRow(Protocol):
    id: Any
    payload: Any


ClaimFn = Callable[[Session, str, int], Sequence[OutboxRow]]
MarkFn = Callable[[Session, Any], None]
MarkManyFn = Callable[[Session, Sequence[Any]], None]


def command_from_payload(
    payload: Mapping[str, Any], issued_at: datetime | None = None
) -> BarrierCommand:
    """Billing's ``BarrierDecided`` event (an outbox payload) as a wire message; a payload that
    is not one raises ``EventPayloadError`` (a ValueError)."""
    decided = BarrierDecided.from_payload(payload)
    return BarrierCommand(
        event_id=decided.event_id,
        lot_id=decided.lot_id,
        gate_id=decided.gate_id,
        open=decided.open,
        display=decided.display[:200],
        reason=decided.reason[:64],
        plate=decided.plate,
        fare_vnd=decided.fare_vnd,
        balance_vnd=decided.balance_vnd,
        issued_at=issued_at or now(),
    )


def publish_command(
    client: mqtt.Client, command: BarrierCommand, expiry_s: int | None
) -> mqtt.MQTTMessageInfo:
    """QoS 1, not retained, expiring after ``expiry_s`` (v5): a late command is worse than none."""
    return client.publish(
        command.topic,
        encode_command(command),
        qos=QOS,
        retain=False,
        properties=expiring(client, expiry_s),
    )


class OutboxPublisher:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        client: mqtt.Client,
        *,
        claim: ClaimFn,
        mark_processed: MarkFn,
        mark_processed_many: MarkManyFn | None = None,
        metrics: Metrics | None = None,
        puback_timeout_s: float = 5.0,
        command_expiry_s: int | None = 30,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = session_factory
        self._client = client
        self._claim = claim
        self._mark = mark_processed
        # Marks the acknowledged rows of a sweep in one statement when given.
        self._mark_many = mark_processed_many
        self._metrics = metrics
        self._timeout = puback_timeout_s
        self._clock = clock
        self._expiry_s = command_expiry_s

    def publish_pending(self, limit: int = 100) -> int:
        """Publish up to ``limit`` pending commands; returns how many were acknowledged."""
        if not self._client.is_connected():
            return 0
        done = 0
        with self._sessions() as session, session.begin():
            rows = self._claim(session, BARRIER_KIND, limit)
            sent: list[tuple[OutboxRow, mqtt.MQTTMessageInfo, str]] = []
            for row in rows:
                payload = row.payload if isinstance(row.payload, Mapping) else {}
                event_id = str(payload.get("event_id", "?"))
                with passage_context(event_id):
                    try:
                        command = command_from_payload(payload)
                    except (KeyError, ValueError, ProtocolError) as exc:
                        # A row no gate can receive: record it and move on, never loop on it.
                        log.error("outbox row %s is not a valid barrier command: %s", row.id, exc)
                        self._mark(session, row.id)
                        continue
                    info = publish_command(self._client, command, self._expiry_s)
                    sent.append((row, info, event_id))
            # One deadline for the whole batch: the claimed rows stay locked until this commit,
            # so a broker that stopped answering must not hold them for a PUBACK timeout each.
            deadline = self._clock() + self._timeout
            late = 0
            acknowledged: list[Any] = []
            for row, info, event_id in sent:
                with passage_context(event_id):
                    remaining = deadline - self._clock()
                    try:
                        if not info.is_published() and remaining > 0:
                            info.wait_for_publish(remaining)
                    except (RuntimeError, ValueError) as exc:
                        log.warning("barrier command not sent (%s); will retry", exc)
                        late += 1
                        continue
                    if not info.is_published():
                        late += 1
                        continue
                    if self._mark_many is None:
                        self._mark(session, row.id)
                    acknowledged.append(row.id)
                    done += 1
                    log.info("barrier command published")
            if self._mark_many is not None:
                self._mark_many(session, acknowledged)
            if late:
                log.warning(
                    "%d barrier commands not acknowledged in %.1fs; the next sweep resends them",
                    late,
                    self._timeout,
                )
        if self._metrics is not None and done:
            self._metrics.commands_published.inc(done)
        return done
