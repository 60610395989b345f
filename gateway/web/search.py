"""The operator's search form: lot, plate, local days, paging, the same on every list page.

Passages, parking sessions and invoices are searched the way an operator asks ("car 30A-123.45
at the central lot on Tuesday"): a lot or all of them, any part of a plate, a range of local
days (Asia/Ho_Chi_Minh), and pages of a fixed size. A field a person typed wrongly is shown
back with its error; it never turns into a 422 JSON answer on a page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Query

from gateway.web.formatting import LOCAL_TZ

PAGE_SIZE = 50
MAX_PAGE = 100_000


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Search:
    lot_id: str = ""
    plate: str = ""
    day_from: date | None = None
    day_to: date | None = None
    page: int = 1
    errors: dict[str, str] = field(default_factory=dict)  # field -> message key

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE

    @property
    def since(self) -> datetime | None:
        """Start of the first local day, as an aware UTC time."""
        if self.day_from is None:
            return None
        return datetime.combine(self.day_from, datetime.min.time(), LOCAL_TZ).astimezone(UTC)

    @property
    def until(self) -> datetime | None:
        """End of the last local day (exclusive)."""
        if self.day_to is None:
            return None
        end = datetime.combine(self.day_to + timedelta(days=1), datetime.min.time(), LOCAL_TZ)
        return end.astimezone(UTC)

    @property
    def narrowed(self) -> bool:
        """A plate or a day was asked for: a search, not the live view."""
        return bool(self.plate or self.day_from or self.day_to)

    def params(self, **extra: str) -> dict[str, str]:
        out = {
            "lot_id": self.lot_id,
            "plate": self.plate,
            "day_from": self.day_from.isoformat() if self.day_from else "",
            "day_to": self.day_to.isoformat() if self.day_to else "",
            **extra,
        }
        return {k: v for k, v in out.items() if v}

    def api_link(self, path: str, *, by_date: bool = False, **extra: str) -> str:
        """The API's form of this search, for CSV exports: aware times (``since``/``until``),
        or with ``by_date`` the local days as ``date_from``/``date_to`` (invoice dates)."""
        params = {"lot_id": self.lot_id, "plate": self.plate, **extra}
        if by_date:
            params["date_from"] = self.day_from.isoformat() if self.day_from else ""
            params["date_to"] = self.day_to.isoformat() if self.day_to else ""
        else:
            params["since"] = self.since.isoformat() if self.since else ""
            params["until"] = self.until.isoformat() if self.until else ""
        kept = {k: v for k, v in params.items() if v}
        return path + ("?" + urlencode(kept) if kept else "")

    def link(self, path: str, page: int | None = None, **extra: str) -> str:
        """The same search on another page (or as CSV), for pager and export links."""
        params = self.params(**extra)
        if page is not None and page > 1:
            params["page"] = str(page)
        return path + ("?" + urlencode(params) if params else "")


def search_form(
    lot_id: Annotated[str, Query(max_length=40)] = "",
    plate: Annotated[str, Query(max_length=20)] = "",
    day_from: Annotated[str, Query(max_length=10)] = "",
    day_to: Annotated[str, Query(max_length=10)] = "",
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
) -> Search:
    errors: dict[str, str] = {}
    start, end = _day(day_from), _day(day_to)
    if day_from and start is None:
        errors["day_from"] = "bad_date"
    if day_to and end is None:
        errors["day_to"] = "bad_date"
    if start and end and start > end:
        errors["day_to"] = "date_order"
        end = None
    return Search(lot_id.strip(), plate.strip(), start, end, page, errors)


SearchDep = Annotated[Search, Depends(search_form)]


@dataclass(frozen=True)
class Pager:
    page: int
    pages: int
    total: int

    @classmethod
    def of(cls, search: Search, total: int) -> Pager:
        return cls(search.page, max(1, -(-total // PAGE_SIZE)), total)
