"""How money and time are shown to people in Vietnam: ``25.000 ₫``, Asia/Ho_Chi_Minh."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def vnd(amount: int | None) -> str:
    """Integer VND with dot thousands separators, as Vietnamese receipts print it."""
    if amount is None:
        return "—"
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(int(amount)):,}".replace(",", ".") + " ₫"


def local_time(value: datetime | str | None, fmt: str = "%d/%m/%Y %H:%M:%S") -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        # Naive values from SQLite are stored in UTC by the packages that write them.
        from datetime import UTC

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
