"""Statements of the settlement hot path, built once and executed with parameters.

Building a select and its cache key costs more CPU than running it on a warm connection. They
are Core statements on the tables (not on the ORM entities): a Core select skips the ORM's
compile and loading steps, and these rows need none of its change tracking.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    Boolean,
    Select,
    Table,
    Update,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal_column,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from billing.adapters import orm, outbox
from billing.services import ledger

PASSAGES = orm.table_of(orm.Passage)
SESSIONS = orm.table_of(orm.ParkingSession)
ACCOUNTS = orm.table_of(orm.TransportAccount)
VEHICLES = orm.table_of(orm.Vehicle)
PASSES = orm.table_of(orm.MonthlyPass)

# What rows.OpenSession and rows.LockedAccount are made of.
SESSION_COLUMNS = tuple(
    SESSIONS.c[name].label(f"session_{name}")
    for name in ("id", "plate_text", "vehicle_class", "entry_at", "payment")
)
ACCOUNT_COLUMNS = tuple(
    ACCOUNTS.c[name].label(f"acct_{name}")
    for name in (
        "id",
        "kind",
        "name",
        "tax_code",
        "address",
        "status",
        "balance_vnd",
        "low_balance_notice_vnd",
        "auto_topup_threshold_vnd",
        "auto_topup_amount_vnd",
        "auto_topup_provider",
        "invoice_email",
        "invoice_monthly",
    )
)


@functools.cache
def q_decision() -> Select[Any]:
    """A settled passage's decision and the facts its event id stands for (see
    ``settle.check_same_facts``)."""
    p = PASSAGES.c
    return select(p.decision, p.lot_id, p.gate_id, p.direction, p.captured_at).where(
        p.event_id == bindparam("event_id")
    )


def _twin_id() -> Select[Any]:
    """The first other passage of this plate at this gate, captured within the duplicate window
    around this one, that opened the barrier (parameters ``twins`` (bool: the lot checks),
    ``gate``, ``key``, ``lo``, ``hi``, ``me``). A kept-closed barrier means the vehicle is still
    there: its next event is a retry, not a duplicate."""
    p = PASSAGES.c
    return (
        select(p.id)
        .where(
            bindparam("twins", type_=Boolean()),
            p.gate_id == bindparam("gate"),
            p.plate_key == bindparam("key"),
            p.captured_at >= bindparam("lo", type_=p.captured_at.type),
            p.captured_at <= bindparam("hi", type_=p.captured_at.type),
            p.id != bindparam("me"),
            p.opened.is_(True),
        )
        .order_by(p.id)
        .limit(1)
    )


@functools.cache
def q_twin_id() -> Select[Any]:
    """``_twin_id`` on its own, for plates with no vehicle (the vehicle look-ups include it)."""
    return _twin_id()


@functools.cache
def q_later_passage() -> Select[Any]:
    """A passage of the plate at the lot captured after this one: an entry that finds one
    arrived late (its car has left, or entered again, since).

    Looked up gate by gate of the lot on ``ix_billing_passages_dup`` (gate, plate, time): one
    index probe per gate, however many passages of other plates the lot has after this one
    (an entry settled behind later events, as after an outage, or the bench's schedule, where
    every exit is an hour after the next entries: the lot-and-time index read them all)."""
    p, gates = PASSAGES.c, orm.table_of(orm.Gate).c
    return (
        select(p.id)
        .where(
            p.gate_id.in_(select(gates.id).where(gates.lot_id == bindparam("lot"))),
            p.plate_key == bindparam("key"),
            p.captured_at > bindparam("at"),
            p.id != bindparam("me"),
        )
        .limit(1)
    )


@functools.cache
def q_passage_outcome() -> Select[Any]:
    p = PASSAGES.c
    return select(p.opened, p.session_id, p.account_id).where(p.id == bindparam("id"))


def _vehicle_columns(*, twin: bool = True) -> tuple[Any, ...]:
    v, a = VEHICLES.c, ACCOUNTS.c
    columns = (
        v.id,
        v.account_id,
        v.vehicle_class,
        a.status,
        a.balance_vnd,
        # Most vehicles hold no pass: then pricing needs no look-up of passes at all.
        exists()
        .where(PASSES.c.vehicle_id == v.id, PASSES.c.lot_id == bindparam("lot"))
        .label("has_pass"),
    )
    # The duplicate check rides along: one statement fewer for every passage.
    return (*columns, _twin_id().scalar_subquery().label("twin_id")) if twin else columns


def _active_vehicle_with_account() -> Any:
    return VEHICLES.join(ACCOUNTS, ACCOUNTS.c.id == VEHICLES.c.account_id)


@functools.cache
def q_vehicle(*, twin: bool = True) -> Any:
    """The active vehicle of a plate and its account (not locked), and ``twin_id``."""
    v = VEHICLES.c
    return (
        select(*_vehicle_columns(twin=twin))
        .select_from(_active_vehicle_with_account())
        .where(v.plate_key == bindparam("key"), v.active.is_(True))
    )


def _open_session_where(stmt: Select[Any]) -> Select[Any]:
    s = SESSIONS.c
    return stmt.where(
        s.lot_id == bindparam("lot"),
        s.plate_key == bindparam("key"),
        # A literal, not a parameter: the prepared statement's generic plan can then use the
        # partial index uq_billing_sessions_open (status = 'open'); with a parameter it
        # scans the table, so PostgreSQL plans the statement afresh at every execution.
        s.status == literal_column("'open'"),
    )


@functools.cache
def q_open_session() -> Select[Any]:
    """The open session of a plate in a lot, locked (``rows.OpenSession`` columns)."""
    return _open_session_where(select(*SESSION_COLUMNS)).with_for_update()


@functools.cache
def q_exit_locked(*, twin: bool = True) -> Select[Any]:
    """The usual exit in one statement: the plate's open session in the lot, its active vehicle
    (``q_vehicle`` columns, with ``twin_id``) and account (``ACCOUNT_COLUMNS``); the session and
    the account are locked. No row: no open session or no vehicle."""
    v = VEHICLES.c
    return _open_session_where(
        select(*SESSION_COLUMNS, *_vehicle_columns(twin=twin), *ACCOUNT_COLUMNS).select_from(
            SESSIONS.join(
                _active_vehicle_with_account(),
                (v.plate_key == SESSIONS.c.plate_key) & v.active.is_(True),
            )
        )
    ).with_for_update(of=[SESSIONS, ACCOUNTS])


# The passage row as settlement inserts it (settle._settle's parameters, by column name).
PASSAGE_INSERT_COLUMNS = (
    "event_id",
    "lot_id",
    "gate_id",
    "direction",
    "captured_at",
    "plate_read",
    "plate_text",
    "plate_key",
    "plate_confidence",
    "needs_review",
    "image_ref",
    "opened",
    "reason",
    "decision",
    "created_at",
    "match_evidence",
)


def _listed_kind() -> Any:
    """The list (blacklist, whitelist, VIP) the plate is on at the lot, or NULL."""
    lists = orm.table_of(orm.LotListEntry).c
    return (
        select(lists.kind)
        .where(lists.lot_id == bindparam("lot"), lists.plate_key == bindparam("key"))
        .scalar_subquery()
    )


@functools.cache
def q_insert_and_look_up(direction: str) -> Select[Any]:
    """PostgreSQL: the passage inserted and everything settlement reads about its plate, in one
    round trip (the statements settle ran one by one before, each a round trip).

    The INSERT is a data-modifying CTE; the rest reads beside it: ``passage_id``, the plate's
    list at the lot (``listed_kind``), ``twin_id`` (the duplicate check), for an entry
    ``later_id`` (``q_later_passage``), and the columns of ``q_exit_locked`` (an exit) or
    ``q_vehicle`` (an entry), NULL when nothing matched. All of it reads the statement's one
    snapshot, in which the new row is not visible yet: the look-ups need no ``me`` to exclude
    it (bind it to 0, which no passage id is). The CTE is the outer side
    of the join, so the passage is inserted (its event id claimed) before any row is locked, as
    when the statements ran one by one. Parameters: those of the look-ups and the passage's
    columns (``PASSAGE_INSERT_COLUMNS``).
    """
    # the passage's lot, gate, plate key and time are the look-ups' parameters too: sent once
    shared = {"lot_id": "lot", "gate_id": "gate", "plate_key": "key", "captured_at": "at"}
    new = (
        insert(PASSAGES)
        .values(
            {
                name: bindparam(shared.get(name, name), type_=PASSAGES.c[name].type)
                for name in PASSAGE_INSERT_COLUMNS
            }
        )
        .returning(PASSAGES.c.id)
        .cte("new_passage")
    )
    exit_ = direction == "exit"
    found = (q_exit_locked(twin=False) if exit_ else q_vehicle(twin=False)).subquery("found")
    columns = [
        new.c.id.label("passage_id"),
        _listed_kind().label("listed_kind"),
        _twin_id().scalar_subquery().label("twin_id"),
    ]
    if exit_:
        # The id of the journal entry of the fare, drawn now when the exit found its open
        # session (most are paid): the entry is then written by the finishing statement
        # (ledger.post_queued). An exit that debits nothing leaves a gap in the entry ids, as
        # a rolled-back transaction does; entries are identified, not numbered, by them.
        journal_seq = func.pg_get_serial_sequence(
            literal_column("'billing_journal_entries'"), literal_column("'id'")
        )
        columns.append(
            case((found.c.session_id.is_not(None), func.nextval(journal_seq))).label("journal_id")
        )
    else:
        columns.append(q_later_passage().scalar_subquery().label("later_id"))
        # Likewise the id of the session the entry opens, drawn when the plate has none open
        # (as this snapshot sees it): the finishing statement then inserts it
        # (``q_open_drawn_session``); an entry opened concurrently makes that INSERT fail on
        # the unique index of open sessions, and the settlement is run again.
        session_seq = func.pg_get_serial_sequence(
            literal_column("'billing_sessions'"), literal_column("'id'")
        )
        open_one = _open_session_where(select(SESSIONS.c.id)).exists()
        columns.append(
            case((bindparam("key").is_not(None) & ~open_one, func.nextval(session_seq))).label(
                "new_session_id"
            )
        )
    return select(*columns, *found.c).select_from(new.outerjoin(found, true()))


@functools.cache
def q_lock_account() -> Select[Any]:
    return select(*ACCOUNT_COLUMNS).where(ACCOUNTS.c.id == bindparam("acct")).with_for_update()


@functools.cache
def q_insert_returning_id(table: Table) -> Any:
    # A Core insert on the table skips the ORM's bulk machinery: these rows need none of it.
    return insert(table).returning(table.c.id)


@functools.cache
def q_insert_session_if_none_open(dialect: str) -> Any:
    """Insert an open session unless the plate has one open in the lot (then no row returns):
    ``ON CONFLICT DO NOTHING`` on the partial unique index ``uq_billing_sessions_open``."""
    stmt = postgresql.insert(SESSIONS) if dialect == "postgresql" else sqlite.insert(SESSIONS)
    return stmt.on_conflict_do_nothing(
        index_elements=[SESSIONS.c.lot_id, SESSIONS.c.plate_key],
        # the index's own predicate, as a literal: the database matches it to the index
        index_where=text("status = 'open'"),
    ).returning(SESSIONS.c.id)


@functools.cache
def q_void_session() -> Update:
    return (
        update(SESSIONS)
        .where(SESSIONS.c.id == bindparam("sid"))
        .values(status="void", payment=None)
    )


def _bound(table: Table, prefix: str, *columns: str) -> dict[str, Any]:
    """``column=bindparam("<prefix><column>")`` for an UPDATE's ``values()``.

    The prefix keeps the parameter names apart from the column names: SQLAlchemy adds every
    parameter named like a column of an UPDATE to its SET clause, and ``q_finish`` runs several
    UPDATEs with one set of parameters (``created_at`` of the outbox rows would have set the
    passage's, the passage's ``vehicle_id`` the session's).
    """
    return {name: bindparam(prefix + name, type_=table.c[name].type) for name in columns}


@functools.cache
def q_close_session() -> Update:
    """Parameters ``sid`` and ``session_<column>``."""
    return (
        update(SESSIONS)
        .where(SESSIONS.c.id == bindparam("sid"))
        .values(
            status="closed",
            **_bound(
                SESSIONS,
                "session_",
                "vehicle_class",
                "exit_at",
                "exit_passage_id",
                "fare_vnd",
                "fare_lines",
                "tariff_version",
                "payment",
                "journal_entry_id",
            ),
        )
    )


@functools.cache
def q_hold_session() -> Update:
    """Parameter ``held_sid``: an open session whose car is held at the exit barrier (payment
    ``unpaid``); the exit that finally closes it resolves the held passages (``q_resolve_held``)."""
    return (
        update(SESSIONS)
        .where(SESSIONS.c.id == bindparam("held_sid"))
        .values(payment=literal_column("'unpaid'"))
    )


# Exits kept closed that wait for the car's own retry or for an operator (see policy.Outcome).
HELD_REASONS = ("low_balance", "account_suspended", "listed_plate")


@functools.cache
def q_resolve_held() -> Update:
    """Parameters ``resolve_lot``, ``resolve_key``, ``resolve_me``: the review cases of a car
    held at this lot's exit are settled by the passage that ends its stay (paid on a retry once
    topped up, or charged / waived by an operator); they leave the review queue."""
    p = PASSAGES.c
    return (
        update(PASSAGES)
        .where(
            # literals: the generic plan uses the review_status index
            p.review_status == literal_column("'pending'"),
            p.lot_id == bindparam("resolve_lot", type_=p.lot_id.type),
            p.plate_key == bindparam("resolve_key", type_=p.plate_key.type),
            p.direction == literal_column("'exit'"),
            p.opened.is_(False),
            p.reason.in_([literal_column(f"'{r}'") for r in HELD_REASONS]),
            p.id != bindparam("resolve_me", type_=p.id.type),
        )
        .values(review_status=literal_column("'resolved'"))
    )


@functools.cache
def q_last_held_exit() -> Select[Any]:
    """Parameter ``sid``: the latest exit passage that kept this session's car at the barrier
    (``id``, ``captured_at``, ``vehicle_id``)."""
    p = PASSAGES.c
    return (
        select(p.id, p.captured_at, p.vehicle_id)
        .where(
            p.session_id == bindparam("sid", type_=p.session_id.type),
            p.direction == literal_column("'exit'"),
            p.opened.is_(False),
            p.reason.in_([literal_column(f"'{r}'") for r in HELD_REASONS]),
        )
        .order_by(p.captured_at.desc(), p.id.desc())
        .limit(1)
    )


@functools.cache
def q_set_session_class() -> Update:
    return (
        update(SESSIONS)
        .where(SESSIONS.c.id == bindparam("sid"))
        .values(vehicle_class=bindparam("vehicle_class", type_=SESSIONS.c.vehicle_class.type))
    )


@functools.cache
def q_balance() -> Select[Any]:
    return select(ACCOUNTS.c.balance_vnd).where(ACCOUNTS.c.id == bindparam("acct"))


@functools.cache
def q_set_balance() -> Update:
    """Parameters ``acct`` and ``account_balance_vnd``."""
    return (
        update(ACCOUNTS)
        .where(ACCOUNTS.c.id == bindparam("acct"))
        .values(**_bound(ACCOUNTS, "account_", "balance_vnd"))
    )


@functools.cache
def q_finish_passage() -> Update:
    """Parameters ``pid`` and ``passage_<column>``."""
    return (
        update(PASSAGES)
        .where(PASSAGES.c.id == bindparam("pid"))
        .values(
            **_bound(
                PASSAGES,
                "passage_",
                "vehicle_id",
                "account_id",
                "session_id",
                "opened",
                "reason",
                "fare_vnd",
                "review_status",
                "decision",
            )
        )
    )


@functools.cache
def q_open_drawn_session() -> Any:
    """An entry's new open session, its id drawn beforehand (``q_insert_and_look_up``):
    parameters ``new_session_id`` and ``new_session_<column>``."""
    return insert(SESSIONS).values(
        id=bindparam("new_session_id", type_=SESSIONS.c.id.type),
        status=literal_column("'open'"),
        **_bound(
            SESSIONS,
            "new_session_",
            "lot_id",
            "plate_text",
            "plate_key",
            "vehicle_id",
            "account_id",
            "vehicle_class",
            "entry_at",
            "entry_passage_id",
        ),
    )


# Writes settlement queues for the end of its transaction, by name (see q_finish).
TRAILING_WRITES = {
    "open_session": q_open_drawn_session,
    "close_session": q_close_session,
    "set_balance": q_set_balance,
    "hold_session": q_hold_session,
    "resolve_held": q_resolve_held,
}


def trailing_write(name: str) -> Any:
    """The statement of a queued write: ``TRAILING_WRITES`` or a journal entry's INSERTs
    (``ledger.post_queued``)."""
    if name == ledger.JOURNAL_ENTRY:
        return ledger.q_journal_entry()
    if name.startswith(ledger.JOURNAL_LINES_PREFIX):
        return ledger.q_journal_lines(int(name.removeprefix(ledger.JOURNAL_LINES_PREFIX)))
    return TRAILING_WRITES[name]()


@functools.cache
def q_finish(writes: tuple[str, ...], outbox_rows: int) -> Any:
    """PostgreSQL: the end of a settlement in one statement, one round trip instead of up to
    four: the queued ``TRAILING_WRITES``, ``q_finish_passage`` and the outbox rows, as
    data-modifying CTEs of the outbox INSERT (PostgreSQL runs each exactly once, whether or not
    the query reads it). They touch different rows, which the transaction has already written
    or locked, so their order does not matter. SQLite has no such CTEs: there they run one by
    one. Their parameter names must not clash with each other nor with a column (``_bound``)."""
    stmt = outbox.insert_statement(outbox_rows)
    for name in writes:
        stmt = stmt.add_cte(trailing_write(name).cte(name))
    return stmt.add_cte(q_finish_passage().cte("finish_passage"))


@functools.cache
def q_passes() -> Select[Any]:
    """The vehicle's passes at the lot valid on some local date from ``first`` to ``last``."""
    mp = PASSES.c
    return select(mp.id, mp.kind, mp.valid_from, mp.valid_until).where(
        mp.vehicle_id == bindparam("vehicle"),
        mp.lot_id == bindparam("lot"),
        mp.valid_from <= bindparam("last"),
        mp.valid_until >= bindparam("first"),
    )
