"""What the review page shows of each queued passage, gathered in one place.

The queue page and an item's own page draw the same ``ReviewItem`` with the same template
partials (``operator/_review_*.html``): frames of the entry and the exit side by side (small
thumbnails, linked to the full frame), the plate zoomed, the facts, the suggested fare, the
actions and their trail, and, once settled, the state and the invoice it made. Another block
(matching sessions, say) is one more field here and one more partial there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from gateway.api import billing_port, queries
from gateway.api.evidence import evidence_view
from gateway.deps import release
from gateway.images import frame_paths, has_plate_zoom
from gateway.web.formatting import LOCAL_TZ

REVIEW_PAGE_SIZE = 10  # items per page: each carries a few thumbnails

# The reasons a passage waits in the queue for (the filter's options), in the order shown.
REVIEW_REASONS = (
    "plate_unreadable",
    "unknown_plate",
    "exit_without_entry",
    "low_balance",
    "account_suspended",
    "entry_while_open",
    "duplicate",
    "listed_plate",
)


@dataclass(frozen=True)
class FrameSet:
    """The stored frames of one passage of the stay (the entry or the exit)."""

    role: str  # "entry" | "exit"
    passage_id: int
    captured_at: datetime
    count: int  # frames stored (0: none kept)
    plate_zoom: bool  # a zoomed plate can be cut from them


@dataclass(frozen=True)
class InvoiceRef:
    id: int
    code: str  # "1C26MPK-00000013"
    status: str
    total_vnd: int


@dataclass(frozen=True)
class ReviewItem:
    passage: Any  # billing's Passage row
    stay: Any | None  # the ParkingSession row
    frames: tuple[FrameSet, ...]  # entry first, then exit
    quote_vnd: int | None  # the fare the charge form is filled with
    quote_source: str  # "session" | "tariff" | "gate" | ""
    trail: tuple[Any, ...]
    invoice: InvoiceRef | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # blocks added by other parts


@dataclass(frozen=True)
class ReviewFilter:
    lot_ids: list[str]
    reason: str = ""
    plate: str = ""
    since: datetime | None = None
    until: datetime | None = None


def day_bounds(day_from: date | None, day_to: date | None) -> tuple[datetime | None, ...]:
    start = datetime.combine(day_from, datetime.min.time(), LOCAL_TZ) if day_from else None
    end = (
        datetime.combine(day_to + timedelta(days=1), datetime.min.time(), LOCAL_TZ)
        if day_to
        else None
    )
    return (
        start.astimezone(UTC) if start else None,
        end.astimezone(UTC) if end else None,
    )


def _frame_set(data_dir: Path, role: str, passage: Any) -> FrameSet:
    ref = passage.image_ref
    count = len(frame_paths(data_dir, ref)) if ref else 0
    return FrameSet(
        role, passage.id, passage.captured_at, count, bool(ref) and has_plate_zoom(data_dir, ref)
    )


def frames_of(session: Session, data_dir: Path, passage: Any, stay: Any | None) -> list[FrameSet]:
    """The entry's and the exit's frames of the stay this passage belongs to."""
    entry_id = stay.entry_passage_id if stay is not None else None
    exit_id = stay.exit_passage_id if stay is not None else None
    if passage.direction == "entry":
        entry_id = passage.id
    else:
        exit_id = passage.id
    out: list[FrameSet] = []
    for role, pid in (("entry", entry_id), ("exit", exit_id)):
        if not pid:
            continue
        row = passage if pid == passage.id else queries.passage(session, pid)
        if row is not None:
            out.append(_frame_set(data_dir, role, row))
    return out


def invoice_of(session: Session, passage: Any) -> InvoiceRef | None:
    """The invoice an exit's charge made (issued from the outbox: may lag a moment)."""
    from einvoice import queries as inv
    from einvoice.invoice_codes import invoice_key

    if passage.direction != "exit":
        return None
    found = inv.invoice_ids_by_event(session, [passage.event_id]).get(passage.event_id)
    if found is None:
        return None
    detail = inv.get_invoice(session, found)
    if detail is None:
        return None
    i = detail.invoice
    return InvoiceRef(i.id, invoice_key(i.template, i.series, i.number), i.status, i.total_vnd)


def build(
    session: Session,
    uow: Any,
    data_dir: Path,
    passages: Sequence[Any],
    *,
    with_invoice: bool = False,
) -> list[ReviewItem]:
    """The items of these passages. Reads with the request's session, then ends its
    transaction (``release``: on SQLite it holds the write lock) before billing prices the
    pending exits in its own unit of work."""
    stays = {
        p.id: queries.parking_session(session, p.session_id) if p.session_id else None
        for p in passages
    }
    frames = {p.id: tuple(frames_of(session, data_dir, p, stays[p.id])) for p in passages}
    trails = {p.id: tuple(queries.review_actions(session, p.id)) for p in passages}
    invoices = {p.id: invoice_of(session, p) if with_invoice else None for p in passages}
    evidence = {p.id: evidence_view(p, driver=False) for p in passages}
    wanted = [p.id for p in passages if p.review_status == "pending" and p.direction == "exit"]
    release(session)
    quotes = billing_port.review_quotes(uow, wanted) if wanted else {}
    out = []
    for p in passages:
        q = quotes.get(p.id)
        out.append(
            ReviewItem(
                passage=p,
                stay=stays[p.id],
                frames=frames[p.id],
                quote_vnd=q.amount_vnd if q else None,
                quote_source=q.source if q else "",
                trail=trails[p.id],
                invoice=invoices[p.id],
                extra={"evidence": evidence[p.id]} if evidence[p.id] else {},
            )
        )
    return out
