"""The one place the API calls billing's write services; maps billing's errors to ours.

Billing raises ``DomainError`` for every broken rule; routes need to tell "no such thing" (404)
from "not allowed by the rules" (422), so existence is checked here first. Billing's messages
are written for operators and may name other accounts ("plate ... already belongs to account
26"): they go to the log, and what the caller reads is the catalogue's text for the rule's code
(``gateway.messages``).
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from billing.adapters import orm as b
from billing.domain.model import AutoTopUp, DomainError
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


def _service(name: str) -> Any:
    """billing.services.<name>, wherever billing's package keeps it."""
    package = importlib.import_module("billing.services")
    fn = getattr(package, name, None)
    if fn is not None:
        return fn
    for module in ("accounts", "topups", "passages", "review", "reconciliation", "reports"):
        try:
            mod = importlib.import_module(f"billing.services.{module}")
        except ModuleNotFoundError:
            continue
        fn = getattr(mod, name, None)
        if fn is not None:
            return fn
    raise RuntimeError(f"billing.services has no {name}()")


def _require_account(uow: Any, account_id: int) -> None:
    with uow.session_factory() as s:
        if s.get(b.TransportAccount, account_id) is None:
            raise NotFound("account_not_found", f"no transport account {account_id}")


def _call(name: str, *args: Any, **kwargs: Any) -> Any:
    try:
        return _service(name)(*args, **kwargs)
    except DomainError as exc:
        raise rejected(exc) from exc


def add_vehicle(uow: Any, account_id: int, plate: str, vehicle_class: str, colour: str) -> int:
    _require_account(uow, account_id)
    return int(_call("add_vehicle", uow, account_id, plate, vehicle_class, colour))


def remove_vehicle(uow: Any, account_id: int, vehicle_id: int) -> None:
    with uow.session_factory() as s:
        row = s.get(b.Vehicle, vehicle_id)
        if row is None or row.account_id != account_id or not row.active:
            raise NotFound("vehicle_not_found", f"no vehicle {vehicle_id} on account {account_id}")
    _call("remove_vehicle", uow, vehicle_id)


def set_auto_topup(
    uow: Any, account_id: int, threshold_vnd: int | None, amount_vnd: int | None
) -> None:
    _require_account(uow, account_id)
    setting = None
    if threshold_vnd is not None and amount_vnd is not None:
        try:
            setting = AutoTopUp(threshold_vnd=threshold_vnd, amount_vnd=amount_vnd)
        except DomainError as exc:
            raise rejected(exc) from exc
    _call("set_auto_topup", uow, account_id, setting)


def review_action(uow: Any, passage_id: int, action: str, actor: str, **kwargs: Any) -> Any:
    """charge / waive / correct_plate on a passage waiting in the review queue."""
    from billing.services import review

    with uow.session_factory() as s:
        if s.get(b.Passage, passage_id) is None:
            raise NotFound("not_found", f"no passage {passage_id}")
    try:
        if action == "correct_plate":
            session_id = review.correct_plate(uow, passage_id, kwargs["plate"], actor)
            return {"session_id": session_id}
        if action == "charge":
            entry = review.charge(
                uow,
                passage_id,
                actor,
                amount_vnd=kwargs.get("amount_vnd"),
                note=kwargs.get("note", ""),
            )
            return {"journal_entry_id": entry}
        if action == "waive":
            review.waive(uow, passage_id, actor, kwargs.get("reason", ""))
            return {}
    except DomainError as exc:
        raise rejected(exc) from exc
    raise ValueError(f"unknown review action {action!r}")


def reconciliation(
    uow: Any, day: Any, lot_id: str | None, invoices: Any = None, payments: Any = None
) -> Any:
    from billing.services.reconcile import reconcile

    return reconcile(uow, day, lot_id, invoices, payments)
