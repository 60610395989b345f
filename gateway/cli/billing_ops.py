"""Operator commands for the day's cases: monthly passes, refunds and the review queue.

Each one calls a billing service; sales and refunds take the operator's request id, so a
command run twice (a retry after a timeout) sells or refunds once.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime

import typer

from billing import services
from billing.domain.decisions import vnd
from billing.services.reads import LOCAL
from gateway.cli.common import console, database_uow, money
from gateway.cli.listing import Col, JsonFlag, emit

passes = typer.Typer(
    help="Monthly passes: sell from the prepaid balance, list.", no_args_is_help=True
)
review = typer.Typer(
    help="The review queue: passages the machine could not settle, and what to do with them.",
    no_args_is_help=True,
)


# ---------------------------------------------------------------- passes


@passes.command("sell")
def passes_sell(
    vehicle_id: int = typer.Argument(..., help="Vehicle id (parking vehicles list)."),
    lot: str = typer.Option(..., "--lot", help="The lot the pass is for."),
    kind: str = typer.Option("day", "--kind", help="day | day_night"),
    start: str = typer.Option(..., "--start", help="First valid day, YYYY-MM-DD."),
    request_id: str = typer.Option(
        ..., "--request-id", help="Your id of this sale: run again, nothing is sold twice."
    ),
) -> None:
    """Sell a monthly pass, paid from the vehicle's account; its e-invoice follows."""
    uow = database_uow()
    pass_id = services.buy_monthly_pass(
        uow, vehicle_id, lot, kind, date.fromisoformat(start), request_id
    )
    (sold,) = services.list_passes(uow, pass_id=pass_id)
    console.print(
        f"pass {sold.id}: {sold.plate} {sold.kind} at {sold.lot_id}, "
        f"{sold.valid_from} - {sold.valid_until}, {vnd(sold.price_vnd)}"
    )


@passes.command("list")
def passes_list(
    account: int = typer.Option(None, "--account", "-a", help="Only this account."),
    lot: str = typer.Option(None, "--lot", help="Only this lot."),
    valid_on: str = typer.Option(None, "--valid-on", help="Only passes valid that day."),
    limit: int = typer.Option(100, help="At most this many rows."),
    as_json: JsonFlag = False,
) -> None:
    """Monthly passes, newest first."""
    day = date.fromisoformat(valid_on) if valid_on else None
    emit(
        services.list_passes(
            database_uow(), account_id=account, lot_id=lot, valid_on=day, limit=limit
        ),
        [
            Col("id", lambda p: p.id, 0, "right"),
            Col("plate", lambda p: p.plate, 0),
            Col("from", lambda p: p.valid_from, 0),
            Col("until", lambda p: p.valid_until, 0),
            Col("kind", lambda p: p.kind, 1),
            Col("lot", lambda p: p.lot_id, 1),
            Col("price", lambda p: vnd(p.price_vnd), 1, "right"),
            Col("account", lambda p: p.account_id, 2, "right"),
            Col("entry", lambda p: p.journal_entry_id or "", 3, "right"),
        ],
        as_json,
        asdict,
    )


# ---------------------------------------------------------------- refund


def refund(
    journal_entry_id: int = typer.Argument(..., help="The fare or pass entry to refund."),
    request_id: str = typer.Option(
        ..., "--request-id", help="Your id of this refund: run again, it is refunded once."
    ),
    reason: str = typer.Option(..., "--reason", help="Why (printed on the adjusting invoice)."),
    actor: str = typer.Option(..., "--actor", help="Who decides the refund."),
    amount: int = typer.Option(None, "--amount", help="VND; default: what is left."),
) -> None:
    """Refund a fare or a pass, in part or in full: a reversing entry and an adjusting invoice."""
    r = services.refund(
        database_uow(),
        journal_entry_id,
        key=request_id,
        reason=reason,
        actor=actor,
        amount_vnd=amount,
    )
    note = "" if r.created else " (this request was refunded before: nothing added)"
    console.print(
        f"refunded {vnd(r.amount_vnd)} (entry {r.journal_entry_id}), "
        f"balance {vnd(r.balance_vnd)}{note}"
    )


# ---------------------------------------------------------------- review queue


@review.command("list")
def review_list(
    lot: str = typer.Option(None, "--lot", help="Only this lot."),
    limit: int = typer.Option(100, help="At most this many rows."),
    as_json: JsonFlag = False,
) -> None:
    """Passages waiting for an operator, oldest first."""
    emit(
        services.review_queue(database_uow(), lot, limit),
        [
            Col("passage", lambda p: p.id, 0, "right"),
            Col("time", lambda p: _short_time(p.captured_at), 0),
            Col("dir", lambda p: p.direction, 1),
            Col("plate", lambda p: p.plate or "?", 0),
            Col("reason", lambda p: p.reason, 1, max_width=20),
            Col("fare", lambda p: money(p.fare_vnd), 2, "right"),
            Col("lot/gate", lambda p: f"{p.lot_id}/{p.gate_id}", 2, max_width=22),
            Col("read", lambda p: p.plate_read or "", 3),
            Col("session", lambda p: p.session_id or "", 4, "right"),
            Col("open", lambda p: "yes" if p.opened else "no", 4),
        ],
        as_json,
        asdict,
    )


def _short_time(t: datetime | None) -> str:
    return "" if t is None else t.astimezone(LOCAL).strftime("%d/%m %H:%M")


@review.command("charge")
def review_charge(
    passage_id: int,
    actor: str = typer.Option(..., "--actor", help="Who decides."),
    amount: int = typer.Option(None, "--amount", help="VND; default: the stay's fare."),
    note: str = typer.Option("", "--note"),
) -> None:
    """Charge a reviewed exit (a car held at the barrier: its stay ends at that passage)."""
    entry_id = services.charge(database_uow(), passage_id, actor, amount, note)
    console.print(f"passage {passage_id} charged (journal entry {entry_id})")


@review.command("waive")
def review_waive(
    passage_id: int,
    actor: str = typer.Option(..., "--actor", help="Who decides."),
    reason: str = typer.Option(..., "--reason", help="Why nothing is charged."),
) -> None:
    """Close a case without charging."""
    services.waive(database_uow(), passage_id, actor, reason)
    console.print(f"passage {passage_id} waived")


@review.command("correct-plate")
def review_correct_plate(
    passage_id: int,
    plate: str = typer.Argument(..., help="The plate as read on the image."),
    actor: str = typer.Option(..., "--actor", help="Who read it."),
) -> None:
    """Set the plate an operator read; links the passage to its vehicle and session."""
    session_id = services.correct_plate(database_uow(), passage_id, plate, actor)
    linked = f", session {session_id}" if session_id else ""
    console.print(f"passage {passage_id} is {plate}{linked}")
