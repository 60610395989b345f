"""What a gate is told, and the input a passage arrives with (see docs/contracts.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from billing.domain.offline import OfflineGrant

from billing.domain.matching import PlateEvidence
from billing.domain.vn import vnd as money


class Reason(StrEnum):
    ENTRY_OK = "entry_ok"
    EXIT_PAID = "exit_paid"
    EXIT_FREE = "exit_free"  # grace period or monthly pass
    EXIT_OVERDRAFT = "exit_overdraft"
    DUPLICATE = "duplicate"
    PLATE_UNREADABLE = "plate_unreadable"
    UNKNOWN_PLATE = "unknown_plate"
    UNKNOWN_PLATE_ENTRY = "unknown_plate_entry"  # unknown plate let in (policy allow)
    ENTRY_WHILE_OPEN = "entry_while_open"
    EXIT_WITHOUT_ENTRY = "exit_without_entry"
    LOW_BALANCE = "low_balance"
    ACCOUNT_SUSPENDED = "account_suspended"
    LISTED_PLATE = "listed_plate"  # on the lot's blacklist: kept closed (billing.domain.lists)
    # An entry that reached billing after a later passage of its car (its exit was settled
    # first): the stay it began is over, so it opens no session; the operator sees it.
    LATE_ENTRY = "late_entry"


@dataclass(frozen=True)
class PassageInput:
    event_id: str
    lot_id: str
    gate_id: str
    direction: str  # "entry" | "exit"
    captured_at: datetime  # timezone-aware
    plate_text: str | None
    plate_confidence: float = 1.0
    needs_review: bool = False
    image_ref: str | None = None
    # The reader's evidence (n-best hypotheses, a scorer for any plate): with it, the plate is
    # matched against the cars that can be here (billing.domain.matching). Not stored as is.
    evidence: PlateEvidence | None = field(default=None, compare=False, repr=False)
    # The edge decided this passage alone (the center did not answer in time): honoured.
    offline: OfflineGrant | None = None


@dataclass(frozen=True)
class GateDecision:
    open: bool
    reason: str
    display: str
    plate: str | None
    fare_vnd: int | None
    balance_vnd: int | None
    session_id: int | None
    passage_id: int
    review: bool
    # True when this is the stored decision of an event settled before (a repeated event): the
    # caller answers the gate again itself, no new outbox row was written. Not stored.
    replayed: bool = field(default=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        # Every field is a scalar: a shallow copy is what asdict() gives, at a tenth of the cost.
        stored = dict(vars(self))
        del stored["replayed"]
        return stored

    @staticmethod
    def from_dict(raw: dict[str, Any]) -> GateDecision:
        return GateDecision(**raw)


def vnd(amount: int) -> str:
    """Vietnamese money display: 25.000đ."""
    return money(amount, unit="đ")


DISPLAY = {
    Reason.ENTRY_OK: "Xin chào {plate}",
    Reason.EXIT_PAID: "Phí {fare} - Số dư {balance}. Chúc thượng lộ bình an",
    Reason.EXIT_FREE: "Miễn phí. Tạm biệt {plate}",
    Reason.EXIT_OVERDRAFT: "Phí {fare} - Số dư {balance}. Vui lòng nạp tiền",
    Reason.DUPLICATE: "{plate}: đã ghi nhận",
    Reason.PLATE_UNREADABLE: "Không đọc được biển số - vui lòng chờ nhân viên",
    Reason.UNKNOWN_PLATE: "{plate} chưa có tài khoản giao thông - vui lòng chờ nhân viên",
    Reason.UNKNOWN_PLATE_ENTRY: "Xin chào {plate} - xe chưa đăng ký tài khoản",
    Reason.ENTRY_WHILE_OPEN: "{plate} đang có lượt gửi chưa kết thúc",
    Reason.EXIT_WITHOUT_ENTRY: "{plate}: không tìm thấy lượt vào",
    Reason.LOW_BALANCE: "Số dư {balance} không đủ cho phí {fare} - vui lòng nạp tiền",
    Reason.ACCOUNT_SUSPENDED: "Tài khoản của {plate} đang bị khoá",
    Reason.LISTED_PLATE: "{plate}: vui lòng chờ nhân viên",
    Reason.LATE_ENTRY: "{plate}: lượt vào đến muộn, đã ghi nhận",
}


def display_text(reason: Reason, plate: str | None, fare: int | None, balance: int | None) -> str:
    return DISPLAY[reason].format(
        plate=plate or "?",
        fare=vnd(fare or 0),
        balance=vnd(balance) if balance is not None else "?",
    )
