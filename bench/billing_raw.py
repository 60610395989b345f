"""The raw-SQL ceiling of settlement: the same rows as ``settle_passage`` writes, by hand.

bench/billing.py measures settlement against this: the minimal statements of an entry and an
exit on our own schema, sent through psycopg with no ORM, no SQLAlchemy, no pricing, no policy
and no decision object, at the same concurrency. What settlement costs beyond it is the price
of the code (validation, pricing, the lot's policy, idempotency checks, the gate's decision).

An entry is one transaction of two statements: the passage inserted together with the look-up
of its vehicle and account (a data-modifying CTE), then the session opened, the passage's
decision stored and the barrier command queued (one statement). An exit is one transaction of
two statements: the passage inserted with the open session, vehicle and account locked, then the
journal entry and its lines, the session closed, the balance written, the passage's decision
and the outbox rows (barrier command, invoice request) in one statement. Each transaction is
BEGIN, two statements and COMMIT, as psycopg sends them (a plain client, no pipeline).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from billing.domain.ledger import VAT_PAYABLE, prepaid_account, revenue_account

FARE_VND = 30_000
VAT_VND = 2_222

ENTRY_LOOKUP = """
WITH p AS (
  INSERT INTO billing_passages (event_id, lot_id, gate_id, direction, captured_at, plate_read,
    plate_text, plate_key, plate_confidence, needs_review, opened, reason, decision, created_at)
  VALUES (%(event_id)s, %(lot)s, %(gate)s, 'entry', %(at)s, %(plate)s, %(plate)s, %(key)s,
    0.97, false, false, '', '{}', now())
  RETURNING id)
SELECT p.id AS pid, v.id AS vehicle_id, v.account_id, v.vehicle_class, a.status, a.balance_vnd
FROM p LEFT JOIN (billing_vehicles v JOIN billing_accounts a ON a.id = v.account_id)
  ON v.plate_key = %(key)s AND v.active
"""

ENTRY_WRITE = """
WITH s AS (
  INSERT INTO billing_sessions (lot_id, plate_text, plate_key, vehicle_id, account_id,
    vehicle_class, status, entry_at, entry_passage_id)
  VALUES (%(lot)s, %(plate)s, %(key)s, %(vehicle_id)s, %(account_id)s, %(vehicle_class)s, 'open',
    %(at)s, %(pid)s)
  RETURNING id),
u AS (
  UPDATE billing_passages SET vehicle_id = %(vehicle_id)s, account_id = %(account_id)s,
    session_id = (SELECT id FROM s), opened = true, reason = 'entry_ok', decision = %(decision)s
  WHERE id = %(pid)s)
INSERT INTO outbox (kind, key, payload, created_at, attempts)
VALUES ('barrier_command', %(event_id)s, %(barrier)s, now(), 0)
"""

EXIT_LOCK = """
WITH p AS (
  INSERT INTO billing_passages (event_id, lot_id, gate_id, direction, captured_at, plate_read,
    plate_text, plate_key, plate_confidence, needs_review, opened, reason, decision, created_at)
  VALUES (%(event_id)s, %(lot)s, %(gate)s, 'exit', %(at)s, %(plate)s, %(plate)s, %(key)s,
    0.97, false, false, '', '{}', now())
  RETURNING id)
SELECT p.id AS pid, l.* FROM p LEFT JOIN (
  SELECT s.id AS sid, s.entry_at, v.id AS vehicle_id, v.vehicle_class, a.id AS account_id,
    a.balance_vnd
  FROM billing_sessions s
  JOIN billing_vehicles v ON v.plate_key = s.plate_key AND v.active
  JOIN billing_accounts a ON a.id = v.account_id
  WHERE s.lot_id = %(lot)s AND s.plate_key = %(key)s AND s.status = 'open'
  FOR UPDATE OF s, a) l ON true
"""

EXIT_WRITE = """
WITH e AS (
  INSERT INTO billing_journal_entries (idempotency_key, fingerprint, kind, description,
    account_id, lot_id, event_id, created_at)
  VALUES ('exit:' || %(event_id)s, %(fingerprint)s, 'fare', %(description)s, %(account_id)s,
    %(lot)s, %(event_id)s, now())
  RETURNING id),
l AS (
  INSERT INTO billing_journal_lines (entry_id, ledger_account, amount_vnd)
  SELECT e.id, x.acct, x.amount FROM e,
    (VALUES (%(prepaid)s, %(fare)s::bigint), (%(revenue)s, %(net)s::bigint),
            (%(vat_account)s, %(vat)s::bigint)) AS x(acct, amount)),
c AS (
  UPDATE billing_sessions SET vehicle_class = %(vehicle_class)s, status = 'closed',
    exit_at = %(at)s, exit_passage_id = %(pid)s, fare_vnd = %(fare)s, fare_lines = %(lines)s,
    tariff_version = 'bench@1', payment = 'charged', journal_entry_id = (SELECT id FROM e)
  WHERE id = %(sid)s),
b AS (
  UPDATE billing_accounts SET balance_vnd = balance_vnd - %(fare)s WHERE id = %(account_id)s),
u AS (
  UPDATE billing_passages SET vehicle_id = %(vehicle_id)s, account_id = %(account_id)s,
    session_id = %(sid)s, opened = true, reason = 'exit_paid', fare_vnd = %(fare)s,
    decision = %(decision)s
  WHERE id = %(pid)s)
INSERT INTO outbox (kind, key, payload, created_at, attempts)
VALUES ('barrier_command', %(event_id)s, %(barrier)s, now(), 0),
       ('invoice_request', %(event_id)s, %(invoice)s, now(), 0)
"""


def plain_url(sqlalchemy_url: str) -> str:
    """``postgresql+psycopg://...`` as libpq takes it."""
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


def passage_runner(
    url: str, lot: str, entry_gate: str, exit_gate: str
) -> tuple[Callable[[str, str, datetime, str, str], None], psycopg.Connection[Any]]:
    """A function settling one passage by hand (``direction``, event id, time, plate, key) and
    its connection (for the backend's pid and closing)."""
    conn = psycopg.connect(plain_url(url))

    def run(direction: str, event_id: str, at: datetime, plate: str, key: str) -> None:
        base = {"event_id": event_id, "lot": lot, "at": at, "plate": plate, "key": key}
        with conn.transaction():
            if direction == "entry":
                row = conn.execute(ENTRY_LOOKUP, base | {"gate": entry_gate}).fetchone()
                assert row is not None and row[1] is not None, f"no vehicle for {plate}"
                pid, vehicle_id, account_id, vehicle_class, _status, _balance = row
                decision = {"open": True, "reason": "entry_ok", "plate": plate, "passage_id": pid}
                conn.execute(
                    ENTRY_WRITE,
                    base
                    | {
                        "pid": pid,
                        "vehicle_id": vehicle_id,
                        "account_id": account_id,
                        "vehicle_class": vehicle_class,
                        "decision": json.dumps(decision),
                        "barrier": json.dumps(decision | {"gate_id": entry_gate}),
                    },
                )
                return
            row = conn.execute(EXIT_LOCK, base | {"gate": exit_gate}).fetchone()
            assert row is not None and row[1] is not None, f"no open session for {plate}"
            pid, sid, entry_at, vehicle_id, vehicle_class, account_id, balance = row
            decision = {
                "open": True,
                "reason": "exit_paid",
                "plate": plate,
                "fare_vnd": FARE_VND,
                "balance_vnd": balance - FARE_VND,
                "session_id": sid,
                "passage_id": pid,
            }
            conn.execute(
                EXIT_WRITE,
                base
                | {
                    "pid": pid,
                    "sid": sid,
                    "vehicle_id": vehicle_id,
                    "vehicle_class": vehicle_class,
                    "account_id": account_id,
                    "fingerprint": event_id[:64],
                    "description": f"parking {plate} at {lot}",
                    "prepaid": prepaid_account(account_id),
                    "revenue": revenue_account(lot),
                    "vat_account": VAT_PAYABLE,
                    "fare": FARE_VND,
                    "net": -(FARE_VND - VAT_VND),
                    "vat": -VAT_VND,
                    "lines": json.dumps([{"label": "bench", "amount_vnd": FARE_VND}]),
                    "decision": json.dumps(decision),
                    "barrier": json.dumps(decision | {"gate_id": exit_gate}),
                    "invoice": json.dumps(
                        {
                            "event_id": event_id,
                            "fare_vnd": FARE_VND,
                            "entry_at": entry_at.isoformat(),
                            "exit_at": at.astimezone(UTC).isoformat(),
                            "stay": str(at - entry_at if entry_at else timedelta()),
                        }
                    ),
                },
            )

    return run, conn
