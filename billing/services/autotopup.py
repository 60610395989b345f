"""The auto top-up worker: ``auto_topup_request`` outbox rows -> the payment provider.

Settlement never calls the provider (a gate must not wait for a remote party): when a debit
leaves a balance below the account's threshold, or a fare could not be paid, it queues a
request in its own transaction (:func:`auto_topup_request`). This worker, run beside the
invoice worker, takes the requests:

1. One short transaction claims rows (``SKIP LOCKED`` on PostgreSQL), opens the request's
   top-up intent (reference ``auto:<event id>``) and counts the attempt *before* the provider
   is asked, so a crash after asking is never mistaken for "never asked". A request never asked
   whose account no longer needs it (topped up meanwhile, auto top-up turned off, account not
   active) is closed without asking: two exits in a row, or a car's retries at the barrier,
   queue several requests that one top-up satisfies.
2. The provider is asked outside any transaction (on SQLite a transaction holds the write lock
   every gate needs), with the intent's reference: asked again, it answers with the same
   transaction id and takes no money twice.
3. A second transaction marks the row processed. The money enters the account when the
   provider's signed webhook reports the payment, as for every top-up
   (``billing.services.intents.credit_topup``): a provider's answer to our own request is not
   proof that money moved. A provider failure leaves the row pending with its ``last_error``
   for the next run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.orm import Session

from billing.adapters import orm, outbox
from billing.adapters.autopay import TopUpProvider
from billing.adapters.uow import UnitOfWork
from billing.domain.events import AutoTopUpRequested
from billing.domain.model import AccountStatus, DomainError, auto_topup_amount
from billing.domain.payments import IntentKind, auto_reference
from billing.services.intents import ensure_intent
from billing.services.rows import LockedAccount

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AutoTopUpResult:
    row_id: int
    account_id: int
    outcome: str  # requested (the provider took the request) | not_needed | failed
    amount_vnd: int = 0
    detail: str = ""  # the provider's transaction id, or why not


@dataclass(frozen=True)
class _Request:
    row_id: int
    key: str
    account_id: int
    provider: str | None  # None: the operator's default auto top-up provider
    amount_vnd: int

    @property
    def reference(self) -> str:
        return auto_reference(self.key)


def auto_topup_request(
    acct: LockedAccount, event_id: str, need_vnd: int
) -> AutoTopUpRequested | None:
    """The outbox event asking for an auto top-up, or None when none is due: the account has auto
    top-up on, is active, and its balance (less ``need_vnd``, a fare it could not pay) is below
    the threshold. Settlement writes the row in its own transaction (``acct`` locked there).

    The amount is fixed here, so every retry of the request asks the provider for the same sum.
    """
    threshold, step = acct.auto_topup_threshold_vnd, acct.auto_topup_amount_vnd
    if threshold is None or not step or acct.status != AccountStatus.ACTIVE.value:
        return None
    amount = auto_topup_amount(acct.balance_vnd, threshold, step, need_vnd)
    if not amount:
        return None
    return AutoTopUpRequested(
        event_id=event_id,
        account_id=acct.id,
        provider=acct.auto_topup_provider or "",  # "": the operator's default provider
        amount_vnd=amount,
        threshold_vnd=threshold,
        need_vnd=need_vnd,
        balance_vnd=acct.balance_vnd,
    )


def process_auto_topups(
    uow: UnitOfWork,
    provider: TopUpProvider | Mapping[str, TopUpProvider],
    limit: int = 50,
    *,
    skip: Collection[int] = (),
    default: str | None = None,
) -> list[AutoTopUpResult]:
    """Handle up to ``limit`` pending auto top-up requests, oldest first, one at a time (a
    top-up can make the account's next request unnecessary); safe in several workers.

    ``provider``: the provider, or providers by name (a request names its account's).
    ``default``: the provider of requests that name none (one provider alone is the default).
    ``skip``: outbox row ids to leave for later (rows waiting out a retry pause).
    """
    providers = provider if isinstance(provider, Mapping) else {provider.name: provider}
    if default is None and len(providers) == 1:
        default = next(iter(providers))
    results: list[AutoTopUpResult] = []
    seen = set(skip)
    while len(results) < limit:
        claimed = _claim_one(uow, seen, default, providers)
        if claimed is None:
            break
        seen.add(claimed.row_id)
        if isinstance(claimed, AutoTopUpResult):
            results.append(claimed)
            continue
        chosen = providers[claimed.provider or ""]
        try:
            txn = chosen.charge(claimed.account_id, claimed.amount_vnd, claimed.reference)
        except Exception as exc:  # a remote party: any failure is retried on a later run
            results.append(_failed(uow, claimed, f"{type(exc).__name__}: {exc}"))
            continue
        results.append(_requested(uow, claimed, txn))
    return results


def _claim_one(
    uow: UnitOfWork,
    seen: Collection[int],
    default: str | None,
    providers: Mapping[str, TopUpProvider],
) -> _Request | AutoTopUpResult | None:
    """The oldest pending request not in ``seen``: to ask the provider for (its attempt
    counted and its intent opened, both committed before asking), or already closed (not
    needed, bad payload) or failed (no such provider here)."""
    with uow:
        s = uow.session
        rows = outbox.claim(s, outbox.AUTO_TOPUP_REQUEST, len(seen) + 1)
        row = next((r for r in rows if r.id not in seen), None)
        if row is None:
            return None
        asked_before = bool(row.attempts)
        row.attempts = (row.attempts or 0) + 1
        try:
            req = _request(row)
            why_not = None if asked_before else _not_needed(s, row.payload)
        except (KeyError, TypeError, ValueError) as exc:
            row.last_error = f"bad auto_topup_request payload: {exc!r}"
            log.error("auto top-up %s: %s", row.key, row.last_error)
            uow.commit()
            return AutoTopUpResult(row.id, 0, "failed", 0, row.last_error)
        if why_not is not None:
            row.processed_at, row.last_error = orm.utcnow(), why_not
            log.info("auto top-up %s for account %d: %s", row.key, req.account_id, why_not)
            uow.commit()
            return AutoTopUpResult(row.id, req.account_id, "not_needed", 0, why_not)
        name = req.provider or default
        if name is None or name not in providers:
            row.last_error = f"no payment provider {name!r} here"
            log.warning("auto top-up %s (account %d): %s", row.key, req.account_id, row.last_error)
            uow.commit()
            return AutoTopUpResult(row.id, req.account_id, "failed", req.amount_vnd, row.last_error)
        req = replace(req, provider=name)
        try:
            ensure_intent(uow, req.account_id, name, req.amount_vnd, IntentKind.AUTO, req.reference)
        except (DomainError, LookupError) as exc:
            row.last_error = f"no top-up intent: {exc}"
            uow.commit()
            return AutoTopUpResult(row.id, req.account_id, "failed", req.amount_vnd, row.last_error)
        uow.commit()
        return req


def _request(row: orm.OutboxRow) -> _Request:
    p = row.payload
    amount = p["amount_vnd"]
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        raise ValueError(f"amount_vnd must be a positive integer, not {amount!r}")
    provider = p.get("provider")
    return _Request(
        row.id, row.key, int(p["account_id"]), str(provider) if provider else None, amount
    )


def _not_needed(s: Session, payload: Mapping[str, Any]) -> str | None:
    """Why a request never sent to the provider can be dropped, or None to send it."""
    acct = s.get(orm.TransportAccount, int(payload["account_id"]))
    if acct is None or acct.status != AccountStatus.ACTIVE.value:
        return "not needed: the account is not active"
    if acct.auto_topup_threshold_vnd is None or not acct.auto_topup_amount_vnd:
        return "not needed: auto top-up was turned off"
    need = int(payload.get("need_vnd") or 0)
    if acct.balance_vnd - need >= acct.auto_topup_threshold_vnd:
        return f"not needed: balance {acct.balance_vnd} VND is back above the threshold"
    return None


def _requested(uow: UnitOfWork, req: _Request, txn: str) -> AutoTopUpResult:
    """The provider took the request: the row is done; its webhook will credit the intent."""
    with uow:
        row = uow.session.get(orm.OutboxRow, req.row_id)
        if row is not None:
            row.processed_at, row.last_error = orm.utcnow(), None
            uow.commit()
    log.info(
        "auto top-up of %d VND on account %d asked of %s (%s, %s): credited by its webhook",
        req.amount_vnd,
        req.account_id,
        req.provider,
        req.reference,
        txn,
    )
    return AutoTopUpResult(req.row_id, req.account_id, "requested", req.amount_vnd, txn)


def _failed(uow: UnitOfWork, req: _Request, error: str) -> AutoTopUpResult:
    """Keep the request pending for the next run, with why (the attempt is counted already)."""
    log.warning("auto top-up %s for account %d failed: %s", req.key, req.account_id, error)
    with uow:
        row = uow.session.get(orm.OutboxRow, req.row_id)
        if row is not None:
            row.last_error = error[:2000]
            uow.commit()
    return AutoTopUpResult(req.row_id, req.account_id, "failed", req.amount_vnd, error)


@dataclass
class AutoTopUpWorker:
    """``process_auto_topups`` in a loop's ``run_once``, pausing failed requests (per worker)
    for a growing time, so a provider that is down is not asked twice a second."""

    uow: UnitOfWork
    provider: TopUpProvider | Mapping[str, TopUpProvider]
    limit: int = 50
    default: str | None = None  # see process_auto_topups
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 300.0
    monotonic: Callable[[], float] = time.monotonic
    _retry: dict[int, tuple[int, float]] = field(default_factory=dict, init=False, repr=False)

    def run_once(self) -> list[AutoTopUpResult]:
        now = self.monotonic()
        skip = {rid for rid, (_, at) in self._retry.items() if at > now}
        results = process_auto_topups(
            self.uow, self.provider, self.limit, skip=skip, default=self.default
        )
        for r in results:
            if r.outcome == "failed":
                failures = self._retry.get(r.row_id, (0, 0.0))[0] + 1
                pause = min(self.retry_max_seconds, self.retry_base_seconds * 2 ** (failures - 1))
                self._retry[r.row_id] = (failures, now + pause)
            else:
                self._retry.pop(r.row_id, None)
        return results
