"""The events billing writes to its outbox, as small frozen values with their kind and key.

Settlement, pass sales, refunds and the auto top-up rule make these; the gateway publishes
``BarrierDecided``, einvoice turns ``InvoiceRequested`` and ``InvoiceAdjustmentRequested`` into
invoices, billing's worker asks the payment provider for ``AutoTopUpRequested``. The outbox
stores each one as JSON (``to_payload``, docs/contracts.md); its readers get it back typed and
checked (``from_payload``), so a malformed row is refused with a clear :class:`EventPayloadError`
instead of a ``KeyError`` deep in a worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any, ClassVar, Self, TypeVar

from billing.domain.model import DomainError, InvoiceMode, Seller

BARRIER_COMMAND = "barrier_command"
INVOICE_REQUEST = "invoice_request"
INVOICE_ADJUSTMENT = "invoice_adjustment"
LOW_BALANCE_NOTICE = "low_balance_notice"
AUTO_TOPUP_REQUEST = "auto_topup_request"


class EventPayloadError(ValueError):
    """An outbox payload that is not the event its kind says (missing or mistyped field)."""


T = TypeVar("T")


def _get(payload: Mapping[str, Any], name: str, kind: type[T], *, optional: bool = False) -> T:
    value = payload.get(name)
    if type(value) is kind:  # the usual case, first (bool is not taken for int here)
        return value
    if value is None and optional:
        return value  # type: ignore[return-value]
    if value is None:
        raise EventPayloadError(f"payload has no {name}")
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise EventPayloadError(f"{name} must be an integer, not {value!r}")
    if kind is str and isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)  # ids written as numbers by older code
    if not isinstance(value, kind):
        raise EventPayloadError(f"{name} must be {kind.__name__}, not {value!r}")
    return value


def _moment(payload: Mapping[str, Any], name: str) -> datetime | None:
    text = _get(payload, name, str, optional=True)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise EventPayloadError(f"{name} is not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise EventPayloadError(f"{name} has no UTC offset: {text!r}")
    return moment


def _day(payload: Mapping[str, Any], name: str) -> date | None:
    text = _get(payload, name, str, optional=True)
    try:
        return None if text is None else date.fromisoformat(text)
    except ValueError:
        raise EventPayloadError(f"{name} is not an ISO date: {text!r}") from None


def _section(payload: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    return _get(payload, name, Mapping)  # type: ignore[type-abstract]


def _without_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class _KeyedByEventId:
    """An event written once per gate event (or sale): its outbox key is that event's id."""

    event_id: str

    @property
    def key(self) -> str:
        return self.event_id

    def to_payload(self) -> dict[str, Any]:
        """Every field, as it is (events whose fields are all JSON values)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class BarrierDecided(_KeyedByEventId):
    """A gate event was decided: the command to publish to its gate (right after commit)."""

    kind: ClassVar[str] = BARRIER_COMMAND
    event_id: str
    lot_id: str
    gate_id: str
    open: bool
    display: str
    reason: str
    plate: str | None = None
    fare_vnd: int | None = None
    balance_vnd: int | None = None

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        return cls(
            event_id=_get(payload, "event_id", str),
            lot_id=_get(payload, "lot_id", str),
            gate_id=_get(payload, "gate_id", str),
            open=_get(payload, "open", bool),
            display=_get(payload, "display", str, optional=True) or "",
            reason=_get(payload, "reason", str, optional=True) or "",
            plate=_get(payload, "plate", str, optional=True),
            fare_vnd=_get(payload, "fare_vnd", int, optional=True),
            balance_vnd=_get(payload, "balance_vnd", int, optional=True),
        )


@dataclass(frozen=True)
class InvoiceBuyer:
    """Who the invoice is made out to: the transport account that paid; ``email``: where the
    account wants its invoices sent; ``monthly``: its passages go on one consolidated invoice
    after the month ends instead of one invoice each."""

    account_id: int
    kind: str  # "person" | "business"
    name: str | None
    tax_code: str | None = None
    address: str | None = None
    email: str | None = None
    monthly: bool = False

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "account_id": self.account_id,
            "kind": self.kind,
            "name": self.name,
            "tax_code": self.tax_code,
            "address": self.address,
        }
        if self.email:
            payload["email"] = self.email
        if self.monthly:
            payload["monthly"] = True
        return payload

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        tax_code = _get(payload, "tax_code", str, optional=True)
        return cls(
            account_id=_get(payload, "account_id", int),
            kind=_get(payload, "kind", str, optional=True)
            or ("business" if tax_code else "person"),
            name=_get(payload, "name", str, optional=True),
            tax_code=tax_code,
            address=_get(payload, "address", str, optional=True),
            email=_get(payload, "email", str, optional=True),
            monthly=bool(_get(payload, "monthly", bool, optional=True)),
        )


def seller_from_payload(payload: Mapping[str, Any]) -> Seller:
    try:
        return Seller(
            name=_get(payload, "name", str),
            tax_code=_get(payload, "tax_code", str),
            address=_get(payload, "address", str),
            invoice_template=_get(payload, "invoice_template", str, optional=True) or "1",
            invoice_series=_get(payload, "invoice_series", str),
            invoice_mode=InvoiceMode(
                _get(payload, "invoice_mode", str, optional=True) or InvoiceMode.CASH_REGISTER
            ),
            cash_register_code=_get(payload, "cash_register_code", str, optional=True),
        )
    except (DomainError, ValueError) as exc:
        raise EventPayloadError(f"seller: {exc}") from None


@dataclass(frozen=True)
class SaleItem:
    """What a sale that is not a stay sold (a monthly pass), named for the invoice line."""

    kind: str  # "monthly_pass"
    name: str  # the invoice line, in Vietnamese
    code: str | None = None
    pass_kind: str | None = None
    valid_from: date | None = None
    valid_until: date | None = None

    def to_payload(self) -> dict[str, Any]:
        return _without_none(
            {
                "kind": self.kind,
                "name": self.name,
                "code": self.code,
                "pass_kind": self.pass_kind,
                "valid_from": self.valid_from.isoformat() if self.valid_from else None,
                "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            }
        )

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        name = _get(payload, "name", str).strip()
        if not name:
            raise EventPayloadError("an invoice item needs a name")
        return cls(
            kind=_get(payload, "kind", str, optional=True) or "monthly_pass",
            name=name,
            code=_get(payload, "code", str, optional=True),
            pass_kind=_get(payload, "pass_kind", str, optional=True),
            valid_from=_day(payload, "valid_from"),
            valid_until=_day(payload, "valid_until"),
        )


@dataclass(frozen=True)
class InvoiceRequested(_KeyedByEventId):
    """A debit to invoice: a paid exit (entry and exit times), or a sale named by ``item``.

    ``fare_vnd`` includes VAT at ``vat_percent``, the rate billing booked it at
    (billing.domain.vat); None only in requests written before the rate was named.
    """

    kind: ClassVar[str] = INVOICE_REQUEST
    event_id: str
    journal_entry_id: int
    lot_id: str
    lot_name: str
    plate: str | None
    vehicle_class: str | None
    fare_vnd: int
    vat_percent: int | None
    seller: Seller
    buyer: InvoiceBuyer
    session_id: int | None = None
    gate_id: str | None = None
    entry_at: datetime | None = None
    exit_at: datetime | None = None
    pass_id: int | None = None
    item: SaleItem | None = None

    def __post_init__(self) -> None:
        if self.fare_vnd <= 0:
            raise EventPayloadError(f"fare_vnd must be positive, not {self.fare_vnd}")
        if self.item is None and (self.entry_at is None or self.exit_at is None):
            raise EventPayloadError(
                "an invoice request is for a stay (entry_at, exit_at) or an item"
            )

    def to_payload(self) -> dict[str, Any]:
        return _without_none(
            {
                "event_id": self.event_id,
                "journal_entry_id": self.journal_entry_id,
                "session_id": self.session_id,
                "pass_id": self.pass_id,
                "lot_id": self.lot_id,
                "lot_name": self.lot_name,
                "gate_id": self.gate_id,
                "plate": self.plate,
                "vehicle_class": self.vehicle_class,
                "entry_at": self.entry_at.isoformat() if self.entry_at else None,
                "exit_at": self.exit_at.isoformat() if self.exit_at else None,
                "fare_vnd": self.fare_vnd,
                "vat_percent": self.vat_percent,
                "item": self.item.to_payload() if self.item else None,
                "seller": self.seller.as_payload(),
                "buyer": self.buyer.to_payload(),
            }
        )

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        item = payload.get("item")
        return cls(
            event_id=_get(payload, "event_id", str),
            journal_entry_id=_get(payload, "journal_entry_id", int),
            lot_id=_get(payload, "lot_id", str),
            lot_name=_get(payload, "lot_name", str, optional=True) or "",
            plate=_get(payload, "plate", str, optional=True),
            vehicle_class=_get(payload, "vehicle_class", str, optional=True),
            fare_vnd=_get(payload, "fare_vnd", int),
            vat_percent=_get(payload, "vat_percent", int, optional=True),
            seller=seller_from_payload(_section(payload, "seller")),
            buyer=InvoiceBuyer.from_payload(_section(payload, "buyer")),
            session_id=_get(payload, "session_id", int, optional=True),
            gate_id=_get(payload, "gate_id", str, optional=True),
            entry_at=_moment(payload, "entry_at"),
            exit_at=_moment(payload, "exit_at"),
            pass_id=_get(payload, "pass_id", int, optional=True),
            item=None if item is None else SaleItem.from_payload(_section(payload, "item")),
        )


@dataclass(frozen=True)
class InvoiceAdjustmentRequested:
    """A correction of an exit's invoice: a refund (``amount_vnd`` given back), or corrected
    fields of the original request (``changes``: plate, vehicle_class, buyer, ...)."""

    kind: ClassVar[str] = INVOICE_ADJUSTMENT
    original_event_id: str
    journal_entry_id: int  # the refund's entry (or the correction's request): the key
    reason: str
    amount_vnd: int | None = None
    original_journal_entry_id: int | None = None
    account_id: int | None = None
    lot_id: str | None = None
    actor: str | None = None
    changes: Mapping[str, Any] = field(default_factory=dict)
    request_key: str | None = None  # the refund's own key (``refund:<request id>``)

    @property
    def key(self) -> str:
        return self.request_key or f"adjustment:{self.journal_entry_id}"

    def __post_init__(self) -> None:
        if self.amount_vnd is None and not self.changes:
            raise EventPayloadError("an invoice adjustment refunds an amount or changes fields")
        if self.amount_vnd is not None and self.amount_vnd <= 0:
            raise EventPayloadError(f"amount_vnd must be positive, not {self.amount_vnd}")

    def to_payload(self) -> dict[str, Any]:
        return _without_none(
            {
                "original_event_id": self.original_event_id,
                "original_journal_entry_id": self.original_journal_entry_id,
                "journal_entry_id": self.journal_entry_id,
                "reason": self.reason,
                "amount_vnd": self.amount_vnd,
                "account_id": self.account_id,
                "lot_id": self.lot_id,
                "actor": self.actor,
                "request_key": self.request_key,
                **dict(self.changes),
            }
        )

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], replaceable: tuple[str, ...] = ()) -> Self:
        """``replaceable``: the fields of the original request a correction may change."""
        return cls(
            original_event_id=_get(payload, "original_event_id", str),
            journal_entry_id=_get(payload, "journal_entry_id", int),
            reason=_get(payload, "reason", str, optional=True) or "",
            amount_vnd=_get(payload, "amount_vnd", int, optional=True),
            original_journal_entry_id=_get(
                payload, "original_journal_entry_id", int, optional=True
            ),
            account_id=_get(payload, "account_id", int, optional=True),
            lot_id=_get(payload, "lot_id", str, optional=True),
            actor=_get(payload, "actor", str, optional=True),
            changes={k: payload[k] for k in replaceable if k in payload},
            request_key=_get(payload, "request_key", str, optional=True),
        )


@dataclass(frozen=True)
class LowBalanceNoticed(_KeyedByEventId):
    """A debit left the balance below the account's notice level."""

    kind: ClassVar[str] = LOW_BALANCE_NOTICE
    event_id: str
    account_id: int
    balance_vnd: int
    notice_level_vnd: int


@dataclass(frozen=True)
class AutoTopUpRequested(_KeyedByEventId):
    """Ask the account's payment provider for ``amount_vnd`` (fixed here: every retry asks for
    the same sum); ``need_vnd`` is a fare the balance could not pay, else 0. ``provider`` ""
    leaves the choice to the worker (the operator's default auto top-up provider)."""

    kind: ClassVar[str] = AUTO_TOPUP_REQUEST
    event_id: str
    account_id: int
    provider: str
    amount_vnd: int
    threshold_vnd: int
    need_vnd: int
    balance_vnd: int


OutboxEvent = (
    BarrierDecided
    | InvoiceRequested
    | InvoiceAdjustmentRequested
    | LowBalanceNoticed
    | AutoTopUpRequested
)
