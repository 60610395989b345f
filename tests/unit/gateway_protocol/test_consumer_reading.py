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

    def __call__(self, frames: Any, crop: Any, enough: float | None = None) -> Future[Any]:
        self.calls.append((tuple(frames), crop))
        self.enough = enough
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


async def test_frames_go_in_one_read_that_may_stop_once_conclusive() -> None:
    frames = (JPEG, JPEG + b"2", JPEG + b"3")
    reader = FakeReader({None: Read("30A-123.45", 0.99, True)})
    assert await consumer(reader)._read(event(frames=frames)) == ("30A-123.45", 0.99, False)
    assert reader.calls == [(frames, None)]
    assert reader.enough == 0.95  # the reader stops early only at this confidence
    every = FakeReader({None: Read("30A-123.45", 0.99, True)})
    c = Consumer(MqttConfig(), settle=lambda p: None, read_plate=every, progressive_reading=False)  # type: ignore[arg-type,return-value]
    await c._read(event(frames=frames))
    assert every.calls == [(frames, None)] and every.enough is None


@dataclass(frozen=True)
class Hyp:
    text: str
    key: str
    logprob: float


@dataclass(frozen=True)
class ReadWithEvidence:
    text: str | None
    confidence: float
    auto_ok: bool
    hypotheses: tuple[Hyp, ...]


async def test_a_read_with_hypotheses_carries_lpr_s_scorer_to_billing(monkeypatch: Any) -> None:
    import lpr

    calls: list[str] = []

    def score_key(read: Any, key: str) -> float:
        calls.append(key)
        return -1.0 if key == read.hypotheses[0].key else -9.0

    monkeypatch.setattr(lpr, "score_key", score_key, raising=False)
    monkeypatch.setattr(lpr, "background_logprob", lambda read: -20.0, raising=False)
    read = ReadWithEvidence("30A-123.46", 0.5, False, (Hyp("30A-123.46", "30A12346", -0.7),))
    got = await consumer(FakeReader({None: read}))._reading.reading(event())
    assert (got.text, got.needs_review) == ("30A-123.46", True)
    assert got.evidence is not None
    assert [h.key for h in got.evidence.hypotheses] == ["30A12346"]
    assert got.evidence.background() == -20.0
    assert got.evidence.score("30A12346") == -1.0
    assert got.evidence.score("30A12346") == -1.0  # cached: lpr scores it once
    assert got.evidence.score("30A12345") == -9.0
    assert calls == ["30A12346", "30A12345"]


async def test_a_read_without_hypotheses_or_scorer_has_no_evidence(monkeypatch: Any) -> None:
    import lpr

    got = await consumer(FakeReader({None: Read("30A-123.45", 0.99, True)}))._reading.reading(
        event()
    )
    assert got.evidence is None and got.text == "30A-123.45"
    monkeypatch.delattr(lpr, "score_key", raising=False)
    read = ReadWithEvidence("30A-123.46", 0.5, False, (Hyp("30A-123.46", "30A12346", -0.7),))
    got = await consumer(FakeReader({None: read}))._reading.reading(event())
    assert got.evidence is None and got.needs_review
