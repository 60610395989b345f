"""Drive passages through billing the way the gateway's consumer does."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from billing.domain.decisions import GateDecision, PassageInput
from billing.services.settle import settle_passage


def settle(
    env: Any,
    lot: str,
    direction: str,
    plate: str | None,
    at: datetime,
    confidence: float = 0.97,
    image_ref: str | None = None,
) -> GateDecision:
    entry_gate, exit_gate = env.demo.gates[lot]
    return settle_passage(
        env.uow(),
        PassageInput(
            event_id=f"ev-{uuid.uuid4().hex}",
            lot_id=lot,
            gate_id=entry_gate if direction == "entry" else exit_gate,
            direction=direction,
            captured_at=at,
            plate_text=plate,
            plate_confidence=confidence,
            needs_review=confidence < 0.8,
            image_ref=image_ref,
        ),
    )


def stay(
    env: Any, lot: str, plate: str, hours: float = 1.5, end: datetime | None = None
) -> GateDecision:
    end = end or datetime.now(UTC) - timedelta(minutes=1)
    settle(env, lot, "entry", plate, end - timedelta(hours=hours))
    return settle(env, lot, "exit", plate, end)
