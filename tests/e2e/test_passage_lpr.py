"""A synthetic car read by the real plate reader (process pool) from rendered camera frames."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from billing.adapters import orm
from simulator.cameras import SyntheticCamera
from tests.e2e.passage_stack import PLATE, PassageStack, passage_stack, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture(scope="module")
def stack(
    pg_url_module: str, mosquitto: tuple[str, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PassageStack]:
    with passage_stack(
        pg_url_module, mosquitto, tmp_path_factory.mktemp("lpr"), read_plates=True
    ) as s:
        yield s


def readable_frames() -> list[bytes]:
    """Rendered frames of the seeded car that the reader reads with confidence.

    The reader's accuracy is lpr's own benchmark; here the question is whether frames the reader
    can read become a charged, invoiced passage through the pool, MQTT and billing. The reader
    (the same one the pool loads) picks the first deterministic rendering it is sure of.
    """
    from lpr.reader import PlateReader

    reader = PlateReader("auto")
    for seed in range(30):
        frames = SyntheticCamera(3, seed=seed).capture(PLATE)[0]
        # As the consumer reads: the first frame when it is conclusive, else all frames vote.
        read = reader.read(frames[:1])
        if not (read.auto_ok and read.text and read.confidence >= 0.95):
            read = reader.read(frames)
        if read.text == PLATE and read.auto_ok:
            return frames
    raise AssertionError("the plate reader is sure of no rendering of the demo car")


def test_synthetic_car_read_from_frames_enters_leaves_and_is_invoiced(stack: PassageStack) -> None:
    frames = readable_frames()
    gate_in = stack.agent(stack.entry_gate)
    gate_out = stack.agent(stack.exit_gate)
    before = stack.balance()
    now = datetime.now(UTC)
    entry = gate_in.capture(PLATE, frames=frames, captured_at=now - timedelta(hours=3))
    assert entry.plate_text is None and len(entry.frames) == 3  # the gateway must read it
    cmd_in = gate_in.wait_command(entry.event_id, 90)
    assert cmd_in is not None and cmd_in.open, cmd_in
    exit_ = gate_out.capture(PLATE, frames=frames, captured_at=now)
    cmd_out = gate_out.wait_command(exit_.event_id, 90)
    assert cmd_out is not None and cmd_out.open and cmd_out.reason == "exit_paid", cmd_out
    assert cmd_out.fare_vnd and cmd_out.fare_vnd > 0
    assert stack.balance() == before - cmd_out.fare_vnd
    assert stack.count(orm.JournalEntry, event_id=exit_.event_id) == 1
    invoice = wait_until(
        lambda: [r for r in stack.invoices_for(exit_.event_id) if r.status == "accepted"],
        60,
        "invoice accepted by the mock",
    )[0]
    assert invoice.plate == PLATE and invoice.total_vnd == cmd_out.fare_vnd
    assert httpx.get(f"{stack.tax_url}/api/invoices/{invoice.mccqt}", timeout=10).status_code == 200
    # The frame kept for review, and the read recorded with the passage.
    with stack.container.session_factory() as s:
        passage = s.query(orm.Passage).filter_by(event_id=exit_.event_id).one()
    assert passage.plate_text == PLATE and passage.image_ref
    assert (stack.tmp / passage.image_ref).read_bytes()[:3] == b"\xff\xd8\xff"
