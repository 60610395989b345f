"""How the consumer turns frames, a camera crop or camera text into a plate for billing."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.consumer import Consumer
from gateway.mqtt.client import MqttConfig
from gateway.protocol import GateEvent

JPEG = b"\xff\xd8\xff\xe0frame"
CROP = b"\xff\xd8\xff\xe0crop"


@dataclass(frozen=True)
class Read:
    text: str | None
    confidence: float
    auto_ok: bool


class FakeReader:
    def __init__(self, answers: dict[Any, Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[tuple[bytes, ...], Any]] = []

    def __call__(self, frames: Any, crop: Any) -> Future[Any]:
        self.calls.append((tuple(frames), crop))
        fut: Future[Any] = Future()
        answer = self.answers[crop]
        if isinstance(answer, Exception):
            fut.set_exception(answer)
        else:
            fut.set_result(answer)
        return fut


def event(**kw: Any) -> GateEvent:
    base: dict[str, Any] = {
        "event_id": "evt-00000001",
        "lot_id": "L1",
        "gate_id": "G1",
        "direction": "entry",
        "captured_at": datetime.now(UTC),
        "frames": (JPEG,),
    }
    return GateEvent(**{**base, **kw})


def consumer(reader: Any) -> Consumer:
    return Consumer(MqttConfig(), settle=lambda p: None, read_plate=reader)  # type: ignore[arg-type,return-value]


async def test_camera_text_skips_reading_and_low_confidence_goes_to_review() -> None:
    reader = FakeReader({})
    c = consumer(reader)
    assert await c._read(event(plate_text="30A-123.45", plate_confidence=0.95)) == (
        "30A-123.45",
        0.95,
        False,
    )
    assert (await c._read(event(plate_text="30A-123.45", plate_confidence=0.5)))[2] is True
    assert reader.calls == []


async def test_conclusive_crop_is_read_alone() -> None:
    reader = FakeReader({"frame": Read("30A-123.45", 0.99, True)})
    assert await consumer(reader)._read(event(plate_crop=CROP)) == ("30A-123.45", 0.99, False)
    assert reader.calls == [((CROP,), "frame")]


async def test_inconclusive_crop_falls_back_to_the_frames() -> None:
    reader = FakeReader(
        {"frame": Read("30A-123.4", 0.4, False), None: Read("30A-123.45", 0.9, True)}
    )
    assert await consumer(reader)._read(event(plate_crop=CROP)) == ("30A-123.45", 0.9, False)
    assert [crop for _, crop in reader.calls] == ["frame", None]


async def test_unreadable_or_failing_reader_means_review_not_a_guess() -> None:
    none = FakeReader({None: Read(None, 0.0, False)})
    assert await consumer(none)._read(event()) == (None, 0.0, True)
    broken = FakeReader({None: ValueError("corrupt JPEG")})
    assert await consumer(broken)._read(event()) == (None, 0.0, True)
    assert await consumer(None)._read(event()) == (None, 0.0, True)


class ByFrameCount:
    def __init__(self, one: Read, all_: Read) -> None:
        self.one, self.all = one, all_
        self.calls: list[int] = []

    def __call__(self, frames: Any, crop: Any) -> Future[Any]:
        self.calls.append(len(frames))
        fut: Future[Any] = Future()
        fut.set_result(self.one if len(frames) == 1 else self.all)
        return fut


async def test_first_frame_suffices_when_conclusive_else_all_frames_vote() -> None:
    frames = (JPEG, JPEG + b"2", JPEG + b"3")
    sure = ByFrameCount(Read("30A-123.45", 0.99, True), Read("X", 0.1, False))
    assert await consumer(sure)._read(event(frames=frames)) == ("30A-123.45", 0.99, False)
    assert sure.calls == [1]
    unsure = ByFrameCount(Read("30A-123.46", 0.7, False), Read("30A-123.45", 0.97, True))
    assert await consumer(unsure)._read(event(frames=frames)) == ("30A-123.45", 0.97, False)
    assert unsure.calls == [1, 3]
    single = ByFrameCount(Read("30A-123.45", 0.99, True), Read("X", 0.1, False))
    assert (await consumer(single)._read(event()))[0] == "30A-123.45"
    assert single.calls == [1]
