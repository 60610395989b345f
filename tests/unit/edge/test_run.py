"""The edge process's lanes without a broker (the link never connects, so every vehicle is
decided by the edge at once): bad input is logged, counted and survived, a plate not read
surely gets fresh pictures, and nothing opens without a valid allow-list."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.allowlist import Allowlist, public_key_b64, sign_allowlist
from edge.config import parse_config
from edge.io.build import build_io
from edge.io.camera import CameraError
from edge.run import EdgeProcess
from simulator.cameras import TinyCamera

KEY = Ed25519PrivateKey.generate()


@dataclass(frozen=True)
class Read:
    key: str | None
    auto_ok: bool


class Reader:
    """Answers from a script: each call takes the next answer (an exception is raised)."""

    def __init__(self, *answers: Read | Exception) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self, frames: Sequence[bytes], crop: bytes | None) -> Read:
        self.calls += 1
        answer = self.answers.pop(0) if self.answers else Read(None, False)
        if isinstance(answer, Exception):
            raise answer
        return answer


class BrokenCamera:
    def capture(self, plate_text: str | None) -> tuple[list[bytes], bytes | None]:
        raise CameraError("disconnected", "camera in1: disconnected")


def edge_with(tmp: Path, reader: Reader, direction: str = "entry") -> EdgeProcess:
    config = parse_config(
        {
            "lot_id": "L1",
            "data_dir": str(tmp / "edge"),
            "broker": {"host": "127.0.0.1", "port": 1},  # nothing listens: never connects
            "devices": {"sim": {"kind": "memory"}},
            "lanes": [
                {
                    "gate_id": "g1",
                    "direction": direction,
                    "username": "u",
                    "password": "p",
                    "camera": {"kind": "folder", "path": str(tmp)},
                    "trigger": {"kind": "loop", "input": {"device": "sim", "address": 0}},
                    "barrier": {"open": {"device": "sim", "address": 16}},
                }
            ],
            "offline": {"allowlist_public_key": public_key_b64(KEY), "decide_after_s": 5},
        }
    )
    io = build_io(config)
    io.lanes["g1"].camera = TinyCamera()
    edge = EdgeProcess(config, io=io, read=reader)
    edge.lanes["g1"].camera = io.lanes["g1"].camera
    return edge


@pytest.fixture()
def listed() -> bytes:
    return sign_allowlist(
        Allowlist("L1", 3, datetime.now(UTC), 50_000, 200_000, {"30A12345": 120_000}), KEY
    )


@pytest.fixture()
def stopping() -> Iterator[list[EdgeProcess]]:
    made: list[EdgeProcess] = []
    yield made
    for edge in made:
        edge.stop()


def test_a_plate_not_read_surely_gets_fresh_pictures(
    tmp_path: Path, listed: bytes, stopping: list[EdgeProcess]
) -> None:
    reader = Reader(ValueError("corrupt JPEG"), Read("30A12345", False), Read("30A12345", True))
    edge = edge_with(tmp_path, reader)
    stopping.append(edge)
    edge.offer_allowlist(listed)
    seen = edge.runners["g1"].vehicle()
    assert seen is not None and (seen.decided_by, seen.open, seen.reason) == (
        "offline",
        True,
        "allowlisted",
    )
    assert seen.waited_s < 5  # the link is down: no waiting for the deadline
    assert reader.calls == 3
    assert edge.io.lanes["g1"].barrier.opens[-1].reason == "offline"


def test_unreadable_after_every_attempt_stays_closed_and_is_counted(
    tmp_path: Path, listed: bytes, stopping: list[EdgeProcess]
) -> None:
    edge = edge_with(tmp_path, Reader())
    stopping.append(edge)
    edge.offer_allowlist(listed)
    seen = edge.runners["g1"].vehicle()
    assert seen is not None and (seen.open, seen.reason) == (False, "unreadable")
    assert (
        edge.metrics.count(
            "edge_offline_decisions", lane="g1", outcome="closed", reason="unreadable"
        )
        == 1
    )
    assert not edge.io.lanes["g1"].barrier.opens
    assert "staff" in edge.io.lanes["g1"].display.shown[-1]  # type: ignore[attr-defined]


def test_a_camera_that_fails_is_counted_and_the_lane_goes_on(
    tmp_path: Path, listed: bytes, stopping: list[EdgeProcess]
) -> None:
    edge = edge_with(tmp_path, Reader(Read("30A12345", True)))
    stopping.append(edge)
    edge.offer_allowlist(listed)
    runner = edge.runners["g1"]
    runner.lane.camera = BrokenCamera()
    assert runner.vehicle() is None
    assert edge.metrics.count("edge_camera_errors", lane="g1", reason="capture") == 1
    assert edge.lanes["g1"].backlog() == 0  # nothing half-captured was buffered
    runner.lane.camera = TinyCamera()  # reconnected
    seen = runner.vehicle()
    assert seen is not None and seen.open


def test_without_a_valid_allowlist_nothing_opens(
    tmp_path: Path, listed: bytes, stopping: list[EdgeProcess]
) -> None:
    edge = edge_with(tmp_path, Reader(Read("30A12345", True)))
    stopping.append(edge)
    assert edge.offer_allowlist(sign_allowlist(
        Allowlist("L1", 9, datetime.now(UTC), 1, 1, {"30A12345": 1}), Ed25519PrivateKey.generate()
    )) is None  # fmt: skip
    assert edge.metrics.count("edge_allowlist_refused", reason="bad_signature") == 1
    seen = edge.runners["g1"].vehicle()
    assert seen is not None and (seen.open, seen.reason) == (False, "no_allowlist")
    assert edge.metrics.gauge("edge_allowlist_age_seconds") == -1


def test_exit_credit_is_deducted_and_the_exposure_reported(
    tmp_path: Path, listed: bytes, stopping: list[EdgeProcess]
) -> None:
    reader = Reader(*[Read("30A12345", True)] * 3)
    edge = edge_with(tmp_path, reader, direction="exit")
    stopping.append(edge)
    edge.offer_allowlist(listed)
    runner = edge.runners["g1"]
    outcomes = [
        (p.open, p.reason) for p in (runner.vehicle(), runner.vehicle(), runner.vehicle()) if p
    ]
    assert outcomes == [(True, "credit_covers"), (True, "credit_covers"), (False, "credit_short")]
    assert edge.metrics.gauge("edge_offline_exposure_vnd") == 100_000
    assert edge.metrics.gauge("edge_offline_pending") == 3
