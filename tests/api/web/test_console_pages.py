"""The operator console's search pages: plate, days and lot on passages, sessions, invoices."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from billing.services.seed import AIRPORT_LOT, CENTRAL_LOT
from tests.api.web.conftest import PASSWORD, Env, issue_invoices
from tests.api.web.helpers import stay


def _sign_in(env: Env, username: str) -> None:
    r = env.client.post(
        "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 303


def _rows(html: str, attr: str) -> list[str]:
    return re.findall(rf'<tr {attr}="([^"]+)"', html)


def test_lot_choice_says_all_lots_not_a_star(world: Env) -> None:
    _sign_in(world, "op-b")
    for path in ("/dashboard", "/dashboard/passages", "/dashboard/sessions", "/dashboard/invoices"):
        page = world.client.get(path).text
        assert '<option value="">Tất cả các bãi</option>' in page, path
        assert '<option value="">*</option>' not in page, path
    world.client.get("/lang/en", headers={"referer": "/dashboard/sessions"})
    assert '<option value="">All lots</option>' in world.client.get("/dashboard/sessions").text


def test_passages_search_by_plate_part_days_and_lot(world: Env) -> None:
    march = datetime(2026, 3, 10, 3, tzinfo=UTC)  # 10:00 in Hanoi
    stay(world, CENTRAL_LOT, "30A-123.45", hours=1, end=march)
    stay(world, CENTRAL_LOT, "29C-456.78", hours=1, end=march)
    stay(world, AIRPORT_LOT, "30A-123.45", hours=1)
    _sign_in(world, "op-b")
    c = world.client
    live = c.get("/dashboard/passages").text
    assert 'data-testid="live"' in live and "startFeed(" in live
    day = {"day_from": "2026-03-10", "day_to": "2026-03-10"}
    found = c.get("/dashboard/passages", params={"plate": "12345", **day}).text
    assert "startFeed(" not in found  # a search is not the live view
    assert len(_rows(found, "data-passage-id")) == 2  # its entry and exit, not the airport's
    assert "29C-456.78" not in found
    assert "10/03/2026" in found
    one_lot = c.get("/dashboard/passages", params={"plate": "30A", "lot_id": AIRPORT_LOT}).text
    assert len(_rows(one_lot, "data-passage-id")) == 2
    assert 'href="/api/v1/passages.csv?lot_id=' in one_lot
    exits = c.get("/dashboard/passages", params={"plate": "12345", "direction": "exit"}).text
    assert len(_rows(exits, "data-passage-id")) == 2
    # Another operator's lot is not searchable.
    _sign_in(world, "op-a")
    assert c.get("/dashboard/passages", params={"lot_id": AIRPORT_LOT}).status_code == 403


def test_a_wrong_date_is_shown_next_to_its_field(world: Env) -> None:
    _sign_in(world, "op-a")
    page = world.client.get(
        "/dashboard/sessions", params={"day_from": "2026-13-40", "day_to": "2026-03-01"}
    )
    assert page.status_code == 200
    assert 'id="day_from-error"' in page.text and "Ngày không hợp lệ" in page.text
    flipped = world.client.get(
        "/dashboard/passages", params={"day_from": "2026-03-09", "day_to": "2026-03-01"}
    ).text
    assert 'id="day_to-error"' in flipped


def test_sessions_page_pages_and_links_invoices(world: Env, invoice_maker: object) -> None:
    now = datetime.now(UTC)
    for n in reversed(range(52)):  # one car, twice a day for almost a month, oldest first
        stay(world, CENTRAL_LOT, "30A-123.45", hours=0.5, end=now - timedelta(hours=12 * n + 1))
    stay(world, CENTRAL_LOT, "29C-456.78", hours=0.5)
    issue_invoices(world, invoice_maker)
    _sign_in(world, "op-a")
    c = world.client
    first = c.get("/dashboard/sessions").text
    assert len(_rows(first, "data-session")) == 50
    assert "53 kết quả" in first and 'rel="next"' in first
    second = c.get("/dashboard/sessions", params={"page": 2}).text
    assert len(_rows(second, "data-session")) == 3 and 'rel="prev"' in second
    assert "/api/v1/invoices/" in first  # paid stays link their invoice
    one = c.get("/dashboard/sessions", params={"plate": "29C"}).text
    assert len(_rows(one, "data-session")) == 1 and "30A-123.45" not in one
    assert "30 phút" in one


def test_invoices_page_finds_by_code_and_plate(world: Env, invoice_maker: object) -> None:
    stay(world, CENTRAL_LOT, "30A-123.45", hours=1.5)
    stay(world, CENTRAL_LOT, "29C-456.78", hours=1)
    assert issue_invoices(world, invoice_maker) == 2
    _sign_in(world, "op-a")
    c = world.client
    every = c.get("/dashboard/invoices").text
    keys = re.findall(r"<td>(1C\d\d[A-Z]{3}-\d{8})", every)
    assert len(keys) == 2
    by_code = c.get("/dashboard/invoices", params={"code": keys[0]}).text
    assert len(_rows(by_code, "data-invoice-id")) == 1 and keys[0] in by_code
    by_series = c.get("/dashboard/invoices", params={"code": keys[0][1:7]}).text
    assert len(_rows(by_series, "data-invoice-id")) == 2
    by_plate = c.get("/dashboard/invoices", params={"plate": "456"}).text
    assert len(_rows(by_plate, "data-invoice-id")) == 1 and "29C-456.78" in by_plate
    assert "invoices.csv?" in by_plate and "plate=456" in by_plate


def test_lists_show_thumbnails_not_whole_frames(world: Env) -> None:
    import io

    from PIL import Image

    from tests.api.web.helpers import settle

    frame = io.BytesIO()
    Image.effect_noise((1280, 720), 60).convert("RGB").save(frame, "JPEG", quality=90)
    ref = "images/2026-03-10/ev-thumb.jpg"
    path = world.settings.data_dir / ref
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(frame.getvalue())
    settle(world, CENTRAL_LOT, "entry", "30A-123.45", datetime.now(UTC), image_ref=ref)
    _sign_in(world, "op-a")
    page = world.client.get("/dashboard/passages").text
    (pid,) = _rows(page, "data-passage-id")
    assert f'src="/api/v1/passages/{pid}/image?size=thumb"' in page
    thumb = world.client.get(f"/api/v1/passages/{pid}/image", params={"size": "thumb"})
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(thumb.content)) as small:
        assert small.size == (320, 180)
    assert len(thumb.content) * 5 < len(frame.getvalue())
    full = world.client.get(f"/api/v1/passages/{pid}/image")
    assert full.content == frame.getvalue()  # the evidence itself, untouched
    path.write_bytes(b"not a jpeg")
    broken = world.client.get(f"/api/v1/passages/{pid}/image", params={"size": "thumb"})
    assert broken.status_code == 404
