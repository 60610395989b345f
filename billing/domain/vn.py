"""Vietnam's clock and money as people read them: one home for the local time zone and for
VND digit grouping, so receipts, invoices, gate displays and pages never disagree.

The simulator keeps its own copies on purpose: it plays parties outside the system (the tax
authority, payment providers) and imports nothing of ours but the wire formats."""

from __future__ import annotations

from datetime import timedelta, timezone
from zoneinfo import ZoneInfo

LOCAL_TZ_NAME = "Asia/Ho_Chi_Minh"


def local_zone(name: str = LOCAL_TZ_NAME) -> timezone | ZoneInfo:
    """The named zone; Vietnam's own falls back to a fixed +07:00 where the machine has no tz
    database (Vietnam keeps no daylight saving time, so the offset is exact)."""
    try:
        return ZoneInfo(name)
    except Exception:
        if name == LOCAL_TZ_NAME:
            return timezone(timedelta(hours=7), name)
        raise


LOCAL_TZ = local_zone()


def group_digits(amount: int) -> str:
    """Integer with Vietnamese thousands separators: -1234567 -> '-1.234.567'."""
    sign = "-" if amount < 0 else ""
    return f"{sign}{abs(int(amount)):,}".replace(",", ".")


def vnd(amount: int, unit: str = " ₫") -> str:
    """Money as receipts print it: '25.000 ₫' (a gate's display passes unit='đ')."""
    return group_digits(amount) + unit
