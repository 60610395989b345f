"""Finding things: plate parts, local days, invoice codes; CSV in local time."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from billing.services.seed import CENTRAL_LOT
from einvoice.invoice_codes import InvoiceCode, parse_invoice_code
from tests.api.web.conftest import Env, invoice_maker, issue_invoices  # noqa: F401
from tests.api.web.helpers import stay

LOCAL = "+07:00"


def _items(env: Env, path: str, who: str = "op-a", **params: object) -> list[dict[str, object]]:
    r = env.client.get(path, params=params, headers=env.auth(who))
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def test_plate_search_ignores_separators_and_takes_a_part(world: Env) -> None:
    stay(world, CENTRAL_LOT, "30A-123.45", hours=1)
    stay(world, CENTRAL_LOT, "29C-456.78", hours=1)
    for typed in ("30A-123.45", "30a12345", "123.45", "12345", "30A 123"):
        found = _items(world, "/api/v1/passages", plate=typed)
        assert {p["plate_text"] for p in found} == {"30A-123.45"}, typed
        sessions = _items(world, "/api/v1/sessions", plate=typed)
        assert {s["plate_text"] for s in sessions} == {"30A-123.45"}, typed
    assert _items(world, "/api/v1/passages", plate="99Z") == []
    # Punctuation alone is no plate: nothing to filter on, not a wildcard.
    assert len(_items(world, "/api/v1/sessions", plate="%")) == 2


def _local_day(day: str) -> dict[str, str]:
    start = datetime.fromisoformat(f"{day}T00:00:00{LOCAL}")
    return {"since": start.isoformat(), "until": (start + timedelta(days=1)).isoformat()}


def test_sessions_by_date_keep_the_stays_that_overlap_it(world: Env) -> None:
    # 22:00 on 09/03 to 02:00 on 10/03, Hanoi time: a stay of both days.
    stay(world, CENTRAL_LOT, "30A-123.45", hours=4, end=datetime(2026, 3, 9, 19, tzinfo=UTC))
    stay(world, CENTRAL_LOT, "29C-456.78", hours=1, end=datetime(2026, 3, 7, 5, tzinfo=UTC))
    for day in ("2026-03-09", "2026-03-10"):
        found = _items(world, "/api/v1/sessions", **_local_day(day))
        assert {s["plate_text"] for s in found} == {"30A-123.45"}, day
    assert _items(world, "/api/v1/sessions", **_local_day("2026-03-08")) == []
    found = _items(world, "/api/v1/sessions", **_local_day("2026-03-07"))
    assert {s["plate_text"] for s in found} == {"29C-456.78"}


def test_invoices_by_plate_part_and_by_code(world: Env, invoice_maker: object) -> None:  # noqa: F811
    stay(world, CENTRAL_LOT, "30A-123.45", hours=1.5)
    stay(world, CENTRAL_LOT, "29C-456.78", hours=1)
    assert issue_invoices(world, invoice_maker) == 2
    everything = _items(world, "/api/v1/invoices")
    assert len(everything) == 2
    by_part = _items(world, "/api/v1/invoices", plate="12345")
    assert [i["plate"] for i in by_part] == ["30A-123.45"]
    one = by_part[0]
    key = str(one["key"])
    for code in (key, key.lower(), f"{one['series']}-{one['number']}", str(one["number"])):
        assert [i["id"] for i in _items(world, "/api/v1/invoices", code=code)] == [one["id"]]
    series = _items(world, "/api/v1/invoices", code=str(one["series"]))
    assert len(series) == 2
    assert _items(world, "/api/v1/invoices", code="not a code") == []
    if one["mccqt"]:
        got = _items(world, "/api/v1/invoices", code=str(one["mccqt"]))
        assert [i["id"] for i in got] == [one["id"]]
    # An operator of another lot finds nothing, whatever the code.
    assert _items(world, "/api/v1/invoices", who="op-none", code=key) == []


def test_parse_invoice_code_reads_what_people_type() -> None:
    assert parse_invoice_code("1C26MPK-00000013") == InvoiceCode("1", "C26MPK", 13)
    assert parse_invoice_code(" 1/C26MPK/13 ") == InvoiceCode("1", "C26MPK", 13)
    assert parse_invoice_code("c26mpk") == InvoiceCode(None, "C26MPK", None)
    assert parse_invoice_code("00000013") == InvoiceCode(number=13)
    assert parse_invoice_code("M1-26-41849-00100000006") == InvoiceCode(
        mccqt="M1-26-41849-00100000006"
    )
    for nothing in ("", "   ", "0", "hello", "C26", "1C26MPK-123456789"):
        assert parse_invoice_code(nothing) is None, nothing


def test_passages_csv_is_in_local_time_and_follows_the_search(world: Env) -> None:
    end = datetime(2026, 3, 10, 17, 30, tzinfo=UTC)  # 00:30 on 11/03 in Hanoi
    stay(world, CENTRAL_LOT, "30A-123.45", hours=1, end=end)
    stay(world, CENTRAL_LOT, "29C-456.78", hours=1, end=end)
    r = world.client.get(
        "/api/v1/passages.csv", params={"plate": "12345"}, headers=world.auth("op-a")
    )
    assert r.status_code == 200
    text = r.content.decode("utf-8-sig")  # Excel's UTF-8 mark first
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {row["plate_text"] for row in rows} == {"30A-123.45"}
    times = sorted(row["captured_at (Asia/Ho_Chi_Minh)"] for row in rows)
    assert times == ["2026-03-10 23:30:00", "2026-03-11 00:30:00"]
