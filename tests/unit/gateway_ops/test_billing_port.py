"""The API's port to billing calls billing's services by import, with billing's types."""

from __future__ import annotations

import inspect
from typing import get_type_hints

from billing.adapters.uow import UnitOfWork
from gateway.api import billing_port

PORT = (
    billing_port.add_vehicle,
    billing_port.remove_vehicle,
    billing_port.set_auto_topup,
    billing_port.review_action,
    billing_port.reconciliation,
)


def test_every_call_into_billing_takes_billings_unit_of_work() -> None:
    """Typed (``uow: UnitOfWork``, no ``Any``), so mypy checks every call: a service that moves
    or changes its arguments breaks the build, not a request (the port used to look services up
    by name at run time, in modules that no longer exist)."""
    for fn in PORT:
        hints = get_type_hints(fn)
        assert hints["uow"] is UnitOfWork, fn.__name__
        assert "Any" not in str(inspect.signature(fn)), fn.__name__
