"""What is wrong right now, read from the database: the conditions operators are alerted to.

Each condition has a ``key`` naming one occurrence (this gate, this lot's queue, this plate at
this lot, this invoice). While a key is among the current conditions its alert stays open and
nothing more is sent; when it is gone the alert is cleared (``gateway.alerts.monitor``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.adapters import orm as b
from billing.domain.vn import LOCAL_TZ


@dataclass(frozen=True)
class Thresholds:
    review_backlog: int = 20  # pending passages of one lot
    gate_offline: timedelta = timedelta(minutes=2)
    listed_window: timedelta = timedelta(minutes=30)
    rejected_window: timedelta = timedelta(hours=72)


@dataclass(frozen=True)
class Condition:
    key: str
    kind: str  # gate_offline | review_backlog | listed_plate | tax_rejected
    lot_id: str | None
    code: str  # the message catalogue's text of the alert
    params: dict[str, Any] = field(default_factory=dict)


def _local(at: datetime) -> str:
    return at.astimezone(LOCAL_TZ).strftime("%d/%m/%Y %H:%M")


def gates_offline(session: Session, now: datetime, t: Thresholds) -> list[Condition]:
    """Gates whose last will said offline, longer than ``t.gate_offline`` ago."""
    rows = session.execute(
        select(b.Gate.id, b.Gate.lot_id, b.Gate.status_at).where(b.Gate.status == "offline")
    )
    return [
        Condition(
            f"gate_offline:{gate}",
            "gate_offline",
            lot,
            "alert_gate_offline",
            {"gate": gate, "lot": lot, "since": _local(at) if at else "?"},
        )
        for gate, lot, at in rows
        if at is None or now - at >= t.gate_offline
    ]


def review_backlogs(session: Session, now: datetime, t: Thresholds) -> list[Condition]:
    """Lots whose review queue holds more than ``t.review_backlog`` passages."""
    rows = session.execute(
        select(b.Passage.lot_id, func.count())
        .where(b.Passage.review_status == "pending")
        .group_by(b.Passage.lot_id)
    )
    return [
        Condition(
            f"review_backlog:{lot}",
            "review_backlog",
            lot,
            "alert_review_backlog",
            {"lot": lot, "count": int(n), "limit": t.review_backlog},
        )
        for lot, n in rows
        if n > t.review_backlog
    ]


def listed_plates(session: Session, now: datetime, t: Thresholds) -> list[Condition]:
    """Blacklisted plates that came to a gate within ``t.listed_window`` (one per plate and
    lot, however often it tries)."""
    rows = session.execute(
        select(
            b.Passage.lot_id,
            b.Passage.plate_key,
            func.max(b.Passage.plate_text),
            func.max(b.Passage.gate_id),
            func.min(b.Passage.captured_at),
        )
        .where(b.Passage.reason == "listed_plate", b.Passage.captured_at >= now - t.listed_window)
        .group_by(b.Passage.lot_id, b.Passage.plate_key)
    )
    return [
        Condition(
            f"listed_plate:{lot}:{key}",
            "listed_plate",
            lot,
            "alert_listed_plate",
            {"plate": plate, "gate": gate, "lot": lot, "since": _local(first)},
        )
        for lot, key, plate, gate, first in rows
    ]


def tax_rejections(session: Session, now: datetime, t: Thresholds) -> list[Condition]:
    """Invoices the tax authority rejected (issued within ``t.rejected_window``), until they
    are corrected or replaced."""
    from einvoice.db import invoices
    from einvoice.invoice_codes import invoice_key

    c = invoices.c
    rows = session.execute(
        select(c.id, c.lot_id, c.template, c.series, c.number, c.issued_at).where(
            c.status == "rejected", c.issued_at >= now - t.rejected_window
        )
    )
    return [
        Condition(
            f"tax_rejected:{iid}",
            "tax_rejected",
            lot,
            "alert_tax_rejected",
            {"invoice": invoice_key(template, series, int(number)), "since": _local(issued)},
        )
        for iid, lot, template, series, number, issued in rows
    ]


CHECKS = (gates_offline, review_backlogs, listed_plates, tax_rejections)


def current(session: Session, now: datetime, t: Thresholds) -> list[Condition]:
    return [c for check in CHECKS for c in check(session, now, t)]
