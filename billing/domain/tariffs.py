"""Tariffs as data and the pricing rule: exact integer VND with a line-by-line explanation.

A tariff file (billing/tariffs/*.toml) is parsed into :class:`Tariff` by :func:`tariff_from_dict`;
the files are versioned by validity dates and chosen by :class:`TariffCatalog`. Pricing rules:

* grace: a stay shorter than ``grace_minutes`` is free; a longer one pays from the first minute.
* blocks: runs of equal blocks (``minutes``, ``price_vnd``, ``count``; the last run may be
  open-ended). The stay is rounded up to the block. Progressive hourly tables, a first hour then
  half hours, and a fixed price per N hours are all block runs.
* per turn: one turn for every day or night period the stay touches (a night spans midnight,
  so 22:00-02:00 is one night turn; 17:00-19:00 is a day turn and a night turn).
* daily cap: the stay is cut into 24-hour windows from entry; each window pays at most the cap
  and the block table starts again in each window.
* holiday surcharge: a percentage on top when the stay touches a public holiday (local date).
* monthly passes: ``day_night`` covers everything; ``day`` covers stays that touch no night.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from billing.domain.model import DomainError

DAY = timedelta(days=1)


def local_zone(name: str) -> timezone | ZoneInfo:
    try:
        return ZoneInfo(name)
    except Exception:  # no tz database on the machine: Vietnam has no DST, +07:00 is exact
        if name == "Asia/Ho_Chi_Minh":
            return timezone(timedelta(hours=7), name)
        raise


@dataclass(frozen=True)
class BlockRun:
    minutes: int
    price_vnd: int
    count: int | None = None  # None: open-ended (only the last run)


@dataclass(frozen=True)
class PerTurn:
    day_vnd: int
    night_vnd: int
    day_starts: time = time(6, 0)
    night_starts: time = time(18, 0)


@dataclass(frozen=True)
class ClassTariff:
    vehicle_class: str
    grace_minutes: int = 0
    blocks: tuple[BlockRun, ...] = ()
    per_turn: PerTurn | None = None
    daily_cap_vnd: int | None = None
    passes: Mapping[str, int] = field(default_factory=dict)  # "day" | "day_night" -> VND/month


@dataclass(frozen=True)
class Tariff:
    id: str
    version: str
    name: str
    valid_from: date
    valid_until: date | None  # inclusive; None: until a newer version starts
    timezone: str
    vat_percent: int
    holiday_surcharge_percent: int
    holidays: frozenset[date]
    classes: Mapping[str, ClassTariff]

    def for_class(self, vehicle_class: str) -> ClassTariff:
        try:
            return self.classes[vehicle_class]
        except KeyError:
            raise DomainError(
                f"tariff {self.id} {self.version} has no prices for {vehicle_class}"
            ) from None

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


@dataclass(frozen=True)
class FareLine:
    label: str
    quantity: int
    unit_vnd: int
    amount_vnd: int


@dataclass(frozen=True)
class Fare:
    amount_vnd: int
    vat_vnd: int
    lines: tuple[FareLine, ...]
    tariff_id: str
    tariff_version: str

    def explain(self) -> list[dict[str, Any]]:
        return [
            {
                "label": ln.label,
                "quantity": ln.quantity,
                "unit_vnd": ln.unit_vnd,
                "amount_vnd": ln.amount_vnd,
            }
            for ln in self.lines
        ]


def vat_included(amount_vnd: int, vat_percent: int) -> int:
    """The VAT inside a VAT-inclusive amount, rounded half up to the dong."""
    return (amount_vnd * vat_percent * 2 + (100 + vat_percent)) // (2 * (100 + vat_percent))


# ---------------------------------------------------------------- blocks


def _block_lines(runs: tuple[BlockRun, ...], seconds: int) -> list[FareLine]:
    lines: list[FareLine] = []
    remaining = seconds
    start_min = 0
    for run in runs:
        if remaining <= 0:
            break
        block_s = run.minutes * 60
        run_s = None if run.count is None else run.count * block_s
        used = remaining if run_s is None else min(remaining, run_s)
        n = math.ceil(used / block_s)
        end_min = start_min + (run.count * run.minutes if run.count else n * run.minutes)
        label = f"{_hm(start_min)}-{_hm(end_min)}: {run.minutes} min blocks"
        if run.count is None:
            label = f"from {_hm(start_min)}: {run.minutes} min blocks"
        lines.append(FareLine(label, n, run.price_vnd, n * run.price_vnd))
        remaining -= used
        start_min = end_min
    return lines


def _hm(minutes: int) -> str:
    return f"{minutes // 60}h{minutes % 60:02d}" if minutes % 60 else f"{minutes // 60}h"


# ---------------------------------------------------------------- per turn


def _periods(pt: PerTurn, tz: Any, entry: datetime, exit_: datetime) -> list[tuple[datetime, str]]:
    """Day/night periods the stay touches: (start clipped to entry, 'day' | 'night')."""
    local_entry = entry.astimezone(tz)
    d = local_entry.date() - DAY
    found: list[tuple[datetime, str]] = []
    while True:
        day_start = datetime.combine(d, pt.day_starts, tz)
        night_start = datetime.combine(d, pt.night_starts, tz)
        next_day = datetime.combine(d + DAY, pt.day_starts, tz)
        for start, end, kind in ((day_start, night_start, "day"), (night_start, next_day, "night")):
            if start > exit_ or (start == exit_ and exit_ > entry):
                return found
            if end > entry:
                found.append((max(start, entry), kind))
        d += DAY


# ---------------------------------------------------------------- pricing


def _window_fare(
    ct: ClassTariff, seconds: int, periods: list[tuple[datetime, str]]
) -> list[FareLine]:
    if ct.per_turn is not None:
        lines: list[FareLine] = []
        for kind, unit in (("day", ct.per_turn.day_vnd), ("night", ct.per_turn.night_vnd)):
            n = sum(1 for _, k in periods if k == kind)
            if n:
                lines.append(FareLine(f"{kind} turn", n, unit, n * unit))
        return lines
    return _block_lines(ct.blocks, seconds)


def price_stay(
    tariff: Tariff,
    vehicle_class: str,
    entry: datetime,
    exit_: datetime,
    monthly_pass: str | None = None,
) -> Fare:
    """Price one stay exactly; every VND of the result is on a line."""
    if entry.tzinfo is None or exit_.tzinfo is None:
        raise DomainError("entry and exit times must be timezone-aware")
    if exit_ < entry:
        raise DomainError("exit is before entry")
    ct = tariff.for_class(vehicle_class)
    tz = local_zone(tariff.timezone)
    seconds = math.ceil((exit_ - entry).total_seconds())

    def fare(lines: list[FareLine]) -> Fare:
        total = sum(ln.amount_vnd for ln in lines)
        return Fare(
            total, vat_included(total, tariff.vat_percent), tuple(lines), tariff.id, tariff.version
        )

    if seconds < ct.grace_minutes * 60:
        return fare([FareLine(f"grace: under {ct.grace_minutes} min", 1, 0, 0)])

    periods = _periods(ct.per_turn, tz, entry, exit_) if ct.per_turn else []
    if monthly_pass == "day_night" and "day_night" in ct.passes:
        return fare([FareLine("monthly pass (day and night)", 1, 0, 0)])
    if monthly_pass == "day" and "day" in ct.passes:
        night = _touches_night(ct, tz, entry, exit_)
        if not night:
            return fare([FareLine("monthly pass (day)", 1, 0, 0)])

    lines: list[FareLine] = []
    if ct.daily_cap_vnd is None:
        lines = _window_fare(ct, seconds, periods)
    else:
        days, rem = divmod(seconds, 86400)
        windows = [(i, 86400) for i in range(days)] + ([(days, rem)] if rem or not days else [])
        for i, length in windows:
            w_start = entry + timedelta(days=i)
            w_periods = [p for p in periods if w_start <= p[0] < w_start + DAY]
            w_lines = _window_fare(ct, length, w_periods)
            w_total = sum(ln.amount_vnd for ln in w_lines)
            prefix = f"day {i + 1}: " if len(windows) > 1 else ""
            lines += [
                FareLine(prefix + ln.label, ln.quantity, ln.unit_vnd, ln.amount_vnd)
                for ln in w_lines
            ]
            if w_total > ct.daily_cap_vnd:
                cut = ct.daily_cap_vnd - w_total
                lines.append(FareLine(f"{prefix}daily cap {ct.daily_cap_vnd}", 1, cut, cut))

    if monthly_pass == "day" and "day" in ct.passes:
        lines.insert(0, FareLine("monthly pass (day) does not cover night hours", 1, 0, 0))

    base = sum(ln.amount_vnd for ln in lines)
    if tariff.holiday_surcharge_percent and base and _touches_holiday(tariff, tz, entry, exit_):
        pct = tariff.holiday_surcharge_percent
        extra = math.ceil(base * pct / 100 / 1000) * 1000
        lines.append(FareLine(f"public holiday surcharge {pct}%", 1, extra, extra))
    return fare(lines)


def _touches_holiday(tariff: Tariff, tz: Any, entry: datetime, exit_: datetime) -> bool:
    d, last = entry.astimezone(tz).date(), exit_.astimezone(tz).date()
    while d <= last:
        if d in tariff.holidays:
            return True
        d += DAY
    return False


def _touches_night(ct: ClassTariff, tz: Any, entry: datetime, exit_: datetime) -> bool:
    pt = ct.per_turn or PerTurn(0, 0)
    return any(kind == "night" for _, kind in _periods(pt, tz, entry, exit_))


# ---------------------------------------------------------------- parsing and catalog


def _time(value: str) -> time:
    hh, mm = value.split(":")
    return time(int(hh), int(mm))


def _int(value: Any, what: str, minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise DomainError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return value


def _class_from_dict(name: str, raw: Mapping[str, Any]) -> ClassTariff:
    blocks = tuple(
        BlockRun(
            _int(b["minutes"], f"{name}.blocks.minutes", 1),
            _int(b["price_vnd"], f"{name}.blocks.price_vnd"),
            None if b.get("count") is None else _int(b["count"], f"{name}.blocks.count", 1),
        )
        for b in raw.get("blocks", [])
    )
    if any(b.count is None for b in blocks[:-1]):
        raise DomainError(f"{name}: only the last block run may be open-ended")
    if blocks and blocks[-1].count is not None:
        raise DomainError(f"{name}: the last block run must be open-ended (no count)")
    per_turn = None
    if "per_turn" in raw:
        pt = raw["per_turn"]
        per_turn = PerTurn(
            _int(pt["day_vnd"], f"{name}.per_turn.day_vnd"),
            _int(pt["night_vnd"], f"{name}.per_turn.night_vnd"),
            _time(pt.get("day_starts", "06:00")),
            _time(pt.get("night_starts", "18:00")),
        )
        if not per_turn.day_starts < per_turn.night_starts:
            raise DomainError(f"{name}: day must start before night within a date")
    if (per_turn is None) == (not blocks):
        raise DomainError(f"{name}: give either per_turn or blocks")
    cap = raw.get("daily_cap_vnd")
    passes = {k: _int(v, f"{name}.passes.{k}", 1) for k, v in raw.get("passes", {}).items()}
    if set(passes) - {"day", "day_night"}:
        raise DomainError(f"{name}: pass kinds are 'day' and 'day_night'")
    return ClassTariff(
        vehicle_class=name,
        grace_minutes=_int(raw.get("grace_minutes", 0), f"{name}.grace_minutes"),
        blocks=blocks,
        per_turn=per_turn,
        daily_cap_vnd=None if cap is None else _int(cap, f"{name}.daily_cap_vnd", 1),
        passes=passes,
    )


def tariff_from_dict(raw: Mapping[str, Any]) -> Tariff:
    """Build a tariff from a parsed TOML document; every mistake is a clear DomainError."""
    try:
        until = raw.get("valid_until")
        tariff = Tariff(
            id=str(raw["id"]),
            version=str(raw["version"]),
            name=str(raw.get("name", raw["id"])),
            valid_from=_date(raw["valid_from"]),
            valid_until=None if until is None else _date(until),
            timezone=str(raw.get("timezone", "Asia/Ho_Chi_Minh")),
            vat_percent=_int(raw.get("vat_percent", 10), "vat_percent"),
            holiday_surcharge_percent=_int(raw.get("holiday_surcharge_percent", 0), "surcharge"),
            holidays=frozenset(_date(d) for d in raw.get("holidays", [])),
            classes={k: _class_from_dict(k, v) for k, v in raw["classes"].items()},
        )
    except KeyError as exc:
        raise DomainError(f"tariff is missing {exc.args[0]!r}") from None
    local_zone(tariff.timezone)
    return tariff


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


class TariffCatalog:
    """All versions of all tariffs; picks the one in force on a local date."""

    def __init__(self, tariffs: Iterable[Tariff]) -> None:
        self._by_id: dict[str, list[Tariff]] = {}
        for t in tariffs:
            self._by_id.setdefault(t.id, []).append(t)
        for tid, versions in self._by_id.items():
            versions.sort(key=lambda t: t.valid_from)
            for a, b in itertools.pairwise(versions):
                if a.valid_until is None or a.valid_until >= b.valid_from:
                    raise DomainError(f"tariff {tid}: versions {a.version} and {b.version} overlap")

    def ids(self) -> list[str]:
        return sorted(self._by_id)

    def versions(self, tariff_id: str) -> list[Tariff]:
        return list(self._by_id.get(tariff_id, []))

    def in_force(self, tariff_id: str, at: datetime) -> Tariff:
        versions = self._by_id.get(tariff_id)
        if not versions:
            raise DomainError(f"no tariff {tariff_id!r}")
        day = at.astimezone(local_zone(versions[0].timezone)).date()
        for t in versions:
            if t.valid_on(day):
                return t
        raise DomainError(f"no version of tariff {tariff_id!r} is valid on {day}")
