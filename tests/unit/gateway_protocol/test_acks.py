"""PUBACKs leave in arrival order; a reconnect forgets the old connection's pending ones."""

from __future__ import annotations

from gateway.mqtt.acks import ArrivalOrderAcks


def test_a_finished_message_waits_for_every_earlier_one() -> None:
    sent: list[int] = []
    acks = ArrivalOrderAcks(lambda mid, _qos: sent.append(mid))
    first, second, third = (acks.arrived(mid, 1) for mid in (7, 8, 9))
    acks.done(third)
    acks.done(second)
    assert sent == [] and acks.waiting == 3
    acks.done(first)
    assert sent == [7, 8, 9] and acks.waiting == 0


def test_qos0_needs_no_ack_and_holds_nothing() -> None:
    sent: list[int] = []
    acks = ArrivalOrderAcks(lambda mid, _qos: sent.append(mid))
    plain = acks.arrived(0, 0)
    later = acks.arrived(5, 1)
    acks.done(later)
    acks.done(plain)
    assert sent == [5]


def test_acks_of_an_old_connection_are_never_sent_on_the_new_one() -> None:
    sent: list[int] = []
    acks = ArrivalOrderAcks(lambda mid, _qos: sent.append(mid))
    old = acks.arrived(3, 1)
    acks.new_connection()
    redelivered = acks.arrived(3, 1)  # the broker sends it again with the same packet id
    acks.done(old)
    assert sent == []
    acks.done(redelivered)
    assert sent == [3]
