"""Posting to the journal: idempotent by key, balanced, never edited; balances follow from it."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing.adapters.orm import (
    JournalEntry,
    JournalLine,
    LedgerAccount,
    TransportAccount,
    table_of,
    utcnow,
)
from billing.adapters.sql import insert_rows
from billing.domain.ledger import (
    IdempotencyConflict,
    Line,
    Posting,
    account_kind,
    prepaid_account,
)
from billing.domain.model import DomainError
from billing.services.rows import AccountLike


def ensure_ledger_account(session: Session, code: str, name: str) -> None:
    """Add an account to the chart once (concurrent first uses are resolved by a savepoint)."""
    if session.get(LedgerAccount, code) is not None:
        return
    try:
        with session.begin_nested():
            session.add(LedgerAccount(code=code, kind=account_kind(code), name=name))
    except IntegrityError:  # another transaction added it first
        if session.get(LedgerAccount, code) is None:
            raise


@dataclass(frozen=True)
class Posted:
    entry_id: int
    created: bool  # False: the key was used before with the same content


def post(
    session: Session | Connection,
    posting: Posting,
    *,
    account: AccountLike | None = None,
    lot_id: str | None = None,
    event_id: str | None = None,
    reverses_entry_id: int | None = None,
    fresh_key: bool = False,
) -> Posted:
    """Store ``posting`` once. The same key with the same lines returns the first entry; the same
    key with other lines raises :class:`IdempotencyConflict`.

    ``account`` is the transport account row the caller has locked; its cached balance moves
    with the lines on its prepaid liability (a credit raises the balance, a debit lowers it).
    """
    existing = None
    if not fresh_key:  # the caller knows the key is new; the unique index still enforces it
        existing = session.execute(_q_entry_by_key(), {"key": posting.key}).first()
    if existing is not None:
        if existing.fingerprint != posting.fingerprint:
            raise IdempotencyConflict(
                f"idempotency key {posting.key!r} was used for different content "
                f"(journal entry {existing.id})"
            )
        return Posted(existing.id, False)
    prepaid_lines = _prepaid_lines(posting, account)
    params = _entry_params(posting, account, lot_id, event_id, reverses_entry_id)
    dialect = session.dialect if isinstance(session, Connection) else session.get_bind().dialect
    if dialect.name == "postgresql":
        # one round trip: the lines ride in a data-modifying CTE of the entry's INSERT
        entry_id = session.execute(_q_insert_entry_with_lines(len(posting.lines)), params)
        entry_id = entry_id.scalar_one()
    else:
        entry_id = session.execute(_q_insert_entry(), params).scalar_one()
        session.execute(_q_insert_lines(len(posting.lines)), params | {"entry_id": entry_id})
    if account is not None:
        account.balance_vnd -= sum(ln.amount_vnd for ln in prepaid_lines)
    return Posted(entry_id, True)


def post_queued(
    posting: Posting,
    entry_id: int,
    writes: list[tuple[str, dict[str, Any]]],
    *,
    account: AccountLike,
    lot_id: str,
    event_id: str,
) -> Posted:
    """:func:`post` with a fresh key, the entry's id drawn beforehand, and its INSERTs queued on
    ``writes`` for the caller's finishing statement (settlement on PostgreSQL:
    ``statements.q_finish``, as ``JOURNAL_ENTRY`` and ``journal_lines(n)``). The account's
    cached balance moves now, as with :func:`post`; the caller writes it in the same statement.
    """
    prepaid_lines = _prepaid_lines(posting, account)
    params = _entry_params(posting, account, lot_id, event_id, None)
    entry = {f"journal_{name}": params[name] for name in _ENTRY_COLUMNS}
    lines = {name: value for name, value in params.items() if name not in _ENTRY_COLUMNS}
    writes.append((JOURNAL_ENTRY, entry | {"journal_id": entry_id}))
    writes.append((journal_lines(len(posting.lines)), lines | {"journal_id": entry_id}))
    account.balance_vnd -= sum(ln.amount_vnd for ln in prepaid_lines)
    return Posted(entry_id, True)


def _prepaid_lines(posting: Posting, account: AccountLike | None) -> list[Line]:
    prepaid_lines = [
        ln for ln in posting.lines if ln.ledger_account.startswith("liability:prepaid:")
    ]
    if prepaid_lines and (
        account is None
        or any(ln.ledger_account != prepaid_account(account.id) for ln in prepaid_lines)
    ):
        raise DomainError("a posting to a prepaid balance needs that account's locked row")
    return prepaid_lines


_ENTRY_COLUMNS = (
    "idempotency_key",
    "fingerprint",
    "kind",
    "description",
    "account_id",
    "lot_id",
    "event_id",
    "reverses_entry_id",
    "created_at",
)


def _entry_params(
    posting: Posting,
    account: AccountLike | None,
    lot_id: str | None,
    event_id: str | None,
    reverses_entry_id: int | None,
) -> dict[str, Any]:
    """The entry's columns (``_ENTRY_COLUMNS``) and its lines' ``ledger_account_<i>`` and
    ``amount_vnd_<i>``."""
    # Core statements: the entry and its lines are written once and never touched again, so
    # they need none of the ORM's change tracking.
    params: dict[str, Any] = {
        "idempotency_key": posting.key,
        "fingerprint": posting.fingerprint,
        "kind": posting.kind,
        "description": posting.description,
        "account_id": account.id if account is not None else None,
        "lot_id": lot_id,
        "event_id": event_id,
        "reverses_entry_id": reverses_entry_id,
        "created_at": utcnow(),
    }
    for i, ln in enumerate(posting.lines):
        params[f"ledger_account_{i}"], params[f"amount_vnd_{i}"] = ln.ledger_account, ln.amount_vnd
    return params


# Names of the queued writes of :func:`post_queued` (see statements.trailing_write).
JOURNAL_ENTRY = "journal_entry"
JOURNAL_LINES_PREFIX = "journal_lines_"


def journal_lines(n: int) -> str:
    return f"{JOURNAL_LINES_PREFIX}{n}"


@functools.cache
def q_journal_entry() -> Any:
    """The entry of :func:`post_queued`: parameters ``journal_id`` and ``journal_<column>``."""
    entries = table_of(JournalEntry)
    values = {c: bindparam(f"journal_{c}", type_=entries.c[c].type) for c in _ENTRY_COLUMNS}
    return insert(entries).values(
        {"id": bindparam("journal_id", type_=entries.c.id.type), **values}
    )


@functools.cache
def q_journal_lines(n: int) -> Any:
    """The lines of :func:`post_queued`'s entry ``journal_id``."""
    table = table_of(JournalLine)
    entry_id = bindparam("journal_id", type_=table.c.entry_id.type)
    return insert_rows(table, n, ("ledger_account", "amount_vnd"), {"entry_id": entry_id})


@functools.cache
def _q_entry_by_key() -> Select[Any]:
    entries = table_of(JournalEntry).c
    return select(entries.id, entries.fingerprint).where(
        entries.idempotency_key == bindparam("key")
    )


@functools.cache
def _q_insert_entry() -> Any:
    table = table_of(JournalEntry)
    return insert(table).returning(table.c.id)


@functools.cache
def _q_insert_entry_with_lines(n: int) -> Any:
    """PostgreSQL: the entry and its ``n`` lines in one statement (``_q_insert_entry``'s and
    ``_q_insert_lines``' parameters, without ``entry_id``), returning the entry's id."""
    entries = table_of(JournalEntry)
    entry = (
        insert(entries)
        .values({c: bindparam(c, type_=entries.c[c].type) for c in _ENTRY_COLUMNS})
        .returning(entries.c.id)
        .cte("new_entry")
    )
    lines = insert_rows(
        table_of(JournalLine),
        n,
        ("ledger_account", "amount_vnd"),
        {"entry_id": select(entry.c.id).scalar_subquery()},
    )
    return select(entry.c.id).add_cte(lines.cte("new_lines"))


@functools.cache
def _q_insert_lines(n: int) -> Any:
    """All the lines of an entry in one cacheable INSERT (an executemany costs a statement per
    line on the server)."""
    table = table_of(JournalLine)
    entry_id = bindparam("entry_id", type_=table.c.entry_id.type)
    return insert_rows(table, n, ("ledger_account", "amount_vnd"), {"entry_id": entry_id})


@functools.cache
def _q_lock_account() -> Select[Any]:
    return (
        select(TransportAccount)
        .where(TransportAccount.id == bindparam("id"))
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def lock_account(session: Session, account_id: int) -> TransportAccount:
    """The account row, locked for the rest of the transaction (no-op lock on SQLite)."""
    acct = session.scalar(_q_lock_account(), {"id": account_id})
    if acct is None:
        raise LookupError(f"transport account {account_id} does not exist")
    return acct


def entry_lines(session: Session, entry_id: int) -> list[Line]:
    rows = session.execute(
        select(JournalLine.ledger_account, JournalLine.amount_vnd)
        .where(JournalLine.entry_id == entry_id)
        .order_by(JournalLine.id)
    )
    return [Line(code, int(amount)) for code, amount in rows]


@dataclass(frozen=True)
class BalanceMismatch:
    account_id: int
    cached_vnd: int
    journal_vnd: int


def check_balances(session: Session) -> list[BalanceMismatch]:
    """Every cached account balance against the journal; an empty list means they all agree."""
    sums = dict(
        session.execute(
            select(JournalLine.ledger_account, func.sum(JournalLine.amount_vnd))
            .where(JournalLine.ledger_account.like("liability:prepaid:%"))
            .group_by(JournalLine.ledger_account)
        ).all()
    )
    out: list[BalanceMismatch] = []
    for acct_id, cached in session.execute(
        select(TransportAccount.id, TransportAccount.balance_vnd)
    ):
        journal = -int(sums.get(prepaid_account(acct_id), 0) or 0)
        if journal != cached:
            out.append(BalanceMismatch(acct_id, int(cached), journal))
    return out


def trial_balance(session: Session) -> dict[str, int]:
    """Balance of every ledger account; the values sum to zero when the books balance."""
    rows = session.execute(
        select(JournalLine.ledger_account, func.sum(JournalLine.amount_vnd))
        .group_by(JournalLine.ledger_account)
        .order_by(JournalLine.ledger_account)
    )
    return {code: int(total) for code, total in rows}


def unbalanced_entries(session: Session) -> list[int]:
    rows = session.execute(
        select(JournalLine.entry_id)
        .group_by(JournalLine.entry_id)
        .having(func.sum(JournalLine.amount_vnd) != 0)
    )
    return [int(r[0]) for r in rows]
