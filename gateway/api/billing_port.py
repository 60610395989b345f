"""The one place the API calls billing's write services; maps billing's errors to ours.

Billing raises ``DomainError`` for every broken rule; routes need to tell "no such thing" (404)
from "not allowed by the rules" (422), so existence is checked here first. Billing's messages
are written for operators and may name other accounts ("plate ... already belongs to account
26"): they go to the log, and what the caller reads is the catalogue's text for the rule's code
(``gateway.messages``). The services are imported, typed, from where billing keeps them: a
service that moves breaks the import (and mypy), not a request.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from billing.adapters import orm as b
from billing.adapters.uow import UnitOfWork
from billing.domain.model import AutoTopUp, DomainError
from billing.services import accounts, review
from billing.services.reconcile import InvoiceLookup, Reconciliation, reconcile
from billing.services.reconcile_money import PaymentRecords
from gateway import messages

log = logging.getLogger(__name__)


class _Coded(Exception):
    """``code`` from the message catalogue; ``str()`` is its English text, safe to show anyone;
    ``internal`` is billing's own message, for the log only."""

    def __init__(self, code: str, internal: str = "") -> None:
        self.code = code if messages.known(code) else messages.REFUSED
        self.internal = internal
        super().__init__(messages.text(self.code, "en"))


class NotFound(_Coded, LookupError):
    pass


class Rejected(_Coded, ValueError):
    """A business rule said no."""


def rejected(exc: DomainError) -> Rejected:
    log.info("billing refused: %s (%s)", exc, exc.code)
    return Rejected(getattr(exc, "code", messages.REFUSED), str(exc))


@contextmanager
def _rules() -> Iterator[None]:
    """Billing's refusals as :class:`Rejected`."""
    try:
        yield
    except DomainError as exc:
        raise rejected(exc) from exc


def _require_account(uow: UnitOfWork, account_id: int) -> None:
    with uow.session_factory() as s:
        if s.get(b.TransportAccount, account_id) is None:
            raise NotFound("account_not_found", f"no transport account {account_id}")


def add_vehicle(
    uow: UnitOfWork, account_id: int, plate: str, vehicle_class: str, colour: str
) -> int:
    _require_account(uow, account_id)
    with _rules():
        return accounts.add_vehicle(uow, account_id, plate, vehicle_class, colour)


def remove_vehicle(uow: UnitOfWork, account_id: int, vehicle_id: int) -> None:
    with uow.session_factory() as s:
        row = s.get(b.Vehicle, vehicle_id)
        if row is None or row.account_id != account_id or not row.active:
            raise NotFound("vehicle_not_found", f"no vehicle {vehicle_id} on account {account_id}")
    with _rules():
        accounts.remove_vehicle(uow, vehicle_id)


def set_auto_topup(
    uow: UnitOfWork, account_id: int, threshold_vnd: int | None, amount_vnd: int | None
) -> None:
    _require_account(uow, account_id)
    with _rules():
        setting = None
        if threshold_vnd is not None and amount_vnd is not None:
            setting = AutoTopUp(threshold_vnd=threshold_vnd, amount_vnd=amount_vnd)
        accounts.set_auto_topup(uow, account_id, setting)


def review_action(
    uow: UnitOfWork,
    passage_id: int,
    action: str,  # "charge" | "waive" | "correct_plate" | "confirm_match"
    actor: str,
    *,
    plate: str | None = None,
    amount_vnd: int | None = None,
    note: str = "",
    reason: str = "",
) -> dict[str, int | None]:
    """charge / waive / correct_plate on a passage waiting in the review queue."""
    with uow.session_factory() as s:
        if s.get(b.Passage, passage_id) is None:
            raise NotFound("not_found", f"no passage {passage_id}")
    with _rules():
        if action == "correct_plate":
            if plate is None:
                raise Rejected(messages.REFUSED, "correcting a plate needs the plate")
            return {"session_id": review.correct_plate(uow, passage_id, plate, actor)}
        if action == "charge":
            entry = review.charge(uow, passage_id, actor, amount_vnd=amount_vnd, note=note)
            return {"journal_entry_id": entry}
        if action == "waive":
            review.waive(uow, passage_id, actor, reason)
            return {}
        if action == "confirm_match":
            if plate is None:
                raise Rejected(messages.REFUSED, "confirming a match needs its plate")
            return {"journal_entry_id": review.confirm_match(uow, passage_id, plate, actor)}
    raise ValueError(f"unknown review action {action!r}")


def reconciliation(
    uow: UnitOfWork,
    day: date,
    lot_id: str | None,
    invoices: InvoiceLookup | None = None,
    payments: PaymentRecords | None = None,
) -> Reconciliation:
    return reconcile(uow, day, lot_id, invoices, payments)
