"""How money and time are shown to people in Vietnam: ``25.000 ₫``, Asia/Ho_Chi_Minh."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from billing.domain.vn import LOCAL_TZ
from billing.domain.vn import vnd as money


def vnd(amount: int | None) -> str:
    """Integer VND with dot thousands separators, as Vietnamese receipts print it."""
    if amount is None:
        return "—"
    return money(int(amount))


def local_time(value: datetime | str | None, fmt: str = "%d/%m/%Y %H:%M:%S") -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        # Naive values from SQLite are stored in UTC by the packages that write them.
        value = value.replace(tzinfo=UTC)
    return value.astimezone(LOCAL_TZ).strftime(fmt)


def local_date(value: date | datetime | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime | str):
        return local_time(value, "%d/%m/%Y")
    return value.strftime("%d/%m/%Y")


def percent(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.0f}%"


def stay_length(stay: Any, t: Callable[[str], str]) -> str:
    """How long a car stayed (or has stayed so far): ``2 giờ 15 phút`` / ``2 h 15 min``."""
    entry_at = getattr(stay, "entry_at", None)
    if entry_at is None:
        return "—"
    end = getattr(stay, "exit_at", None) or datetime.now(UTC)
    if entry_at.tzinfo is None:
        entry_at = entry_at.replace(tzinfo=UTC)
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    minutes = max(0, int((end - entry_at).total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} {t('hours_short')} {minutes:02d} {t('minutes_short')}"
    return f"{minutes} {t('minutes_short')}"
