"""QoS 1 acknowledgements in the order the messages arrived, whatever order they finish in.

MQTT 3.1.1 and 5 require a receiver to send PUBACKs in the order it received the PUBLISH
packets (MQTT-4.6.0-2). The consumer settles lanes side by side, so a later event on a fast lane
is often done before an earlier one on a slow lane: its acknowledgement waits here until every
earlier message is done, while the work itself stays parallel. A broker that relies on the
ordering (or counts in-flight messages by it) then sees exactly what the protocol promises.

Acknowledgements belong to a connection: after a reconnect the broker sends the unacknowledged
messages again, and a PUBACK for a message of the old connection could acknowledge a new message
that reuses its packet id. So :meth:`ArrivalOrderAcks.new_connection` forgets what is pending;
the redelivered copies are acknowledged when they are done.

Not thread-safe: call every method from one thread (the consumer's event loop).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(eq=False)
class Ticket:
    """One received message waiting for its acknowledgement."""

    mid: int
    qos: int
    connection: int
    done: bool = False


class ArrivalOrderAcks:
    def __init__(self, send: Callable[[int, int], object]) -> None:
        self._send = send  # paho's Client.ack(mid, qos)
        self._pending: deque[Ticket] = deque()
        self._connection = 0

    def new_connection(self) -> None:
        """A (re)connect: pending acknowledgements of the old connection are never sent."""
        self._connection += 1
        self._pending.clear()

    def arrived(self, mid: int, qos: int) -> Ticket:
        """Register a message in arrival order; call :meth:`done` when it may be acknowledged."""
        ticket = Ticket(mid, qos, self._connection)
        if qos > 0:
            self._pending.append(ticket)
        return ticket

    def done(self, ticket: Ticket) -> None:
        """Mark a message done and send every acknowledgement that no longer waits for another."""
        ticket.done = True
        if ticket.connection != self._connection:
            return
        while self._pending and self._pending[0].done:
            head = self._pending.popleft()
            self._send(head.mid, head.qos)

    @property
    def waiting(self) -> int:
        """Messages received on this connection and not yet acknowledged."""
        return len(self._pending)
