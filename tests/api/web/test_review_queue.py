"""The review queue page: filters, paging, the suggested fare, thumbnails and the zoomed plate."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

from PIL import Image
from sqlalchemy import select

from billing.adapters import orm as b
from billing.services.seed import AIRPORT_LOT, CENTRAL_LOT
from gateway.images import store_read_box
from tests.api.web.conftest import PASSWORD, Env
from tests.api.web.helpers import settle


def _sign_in(env: Env, username: str) -> None:
    r = env.client.post(
        "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 303


def _ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-review-id="(\d+)"', page)]


def test_filters_by_reason_plate_lot_and_day_and_pages_of_ten(world: Env) -> None:
    now = datetime.now(UTC)
    unreadable = [
        settle(world, CENTRAL_LOT, "exit", None, now - timedelta(minutes=30 - i), 0.2).passage_id
        for i in range(12)
    ]
    no_entry = settle(world, CENTRAL_LOT, "exit", "30A-123.45", now - timedelta(minutes=5))
    assert no_entry.review
    airport = settle(world, AIRPORT_LOT, "exit", "29C-456.78", now - timedelta(minutes=4))
    assert airport.review
    _sign_in(world, "op-b")
    c = world.client
    first = c.get("/dashboard/review").text
    assert len(_ids(first)) == 10 and "14 kết quả" in first and "Trang 1/2" in first
    second = c.get("/dashboard/review?page=2").text
    assert len(_ids(second)) == 4 and not set(_ids(first)) & set(_ids(second))
    assert set(_ids(first)) | set(_ids(second)) == {
        *unreadable,
        no_entry.passage_id,
        airport.passage_id,
    }
    only = c.get("/dashboard/review?reason=exit_without_entry").text
    assert set(_ids(only)) == {no_entry.passage_id, airport.passage_id}
    assert 'value="exit_without_entry" selected' in only
    assert _ids(c.get("/dashboard/review?plate=123.45").text) == [no_entry.passage_id]
    assert _ids(c.get(f"/dashboard/review?lot_id={AIRPORT_LOT}").text) == [airport.passage_id]
    assert _ids(c.get("/dashboard/review?day_to=2020-01-01").text) == []
    bad = c.get("/dashboard/review?day_from=someday")
    assert bad.status_code == 200 and "Ngày không hợp lệ" in bad.text
    assert _ids(c.get("/dashboard/review?reason=<script>").text)  # unknown reason: ignored
    _sign_in(world, "op-a")  # the central lot only
    assert c.get(f"/dashboard/review?lot_id={AIRPORT_LOT}").status_code == 403
    assert airport.passage_id not in _ids(c.get("/dashboard/review?page=2").text)


def test_a_held_car_is_offered_the_tariffs_fare_and_charged_exactly_that(world: Env) -> None:
    """Low balance at the airport (policy: keep closed): the stay is still open, so the quote is
    the tariff's price up to the exit; the pre-filled form charges it, and the item then shows
    its state and its invoice."""
    now = datetime.now(UTC)
    settle(world, AIRPORT_LOT, "entry", "30G-999.99", now - timedelta(hours=5))
    held = settle(world, AIRPORT_LOT, "exit", "30G-999.99", now - timedelta(minutes=1))
    assert not held.open and held.review
    _sign_in(world, "op-b")
    c = world.client
    item = c.get("/dashboard/review?plate=999.99").text
    value = re.search(r'name="amount_vnd" inputmode="numeric" size="9" value="(\d+)"', item)
    assert value is not None
    quote = int(value.group(1))
    assert quote > 10_000  # more than the 10.000 ₫ balance: why the car was held
    assert "tính theo biểu phí đến lúc ra" in item
    r = c.post(f"/dashboard/review/{held.passage_id}/charge", data={"amount_vnd": str(quote)})
    assert r.status_code == 200 and "Đã thu phí." in r.text
    assert 'data-testid="review-status">đã xử lý' in r.text
    assert "đã thu phí" in r.text.split('data-testid="review-state"')[1]
    with world.session_factory() as s:
        acct = s.get(b.TransportAccount, world.demo.accounts["cuong"])  # type: ignore[attr-defined]
        stay = s.scalar(select(b.ParkingSession).where(b.ParkingSession.plate_text == "30G-999.99"))
    assert acct is not None and acct.balance_vnd == 10_000 - quote  # debited exactly the quote
    assert stay is not None and stay.fare_vnd == quote and stay.payment == "charged"


def test_frames_of_entry_and_exit_side_by_side_and_the_plate_zoomed(world: Env) -> None:
    now = datetime.now(UTC)
    data = world.settings.data_dir

    def stored(name: str) -> str:
        ref = f"images/2026-12-06/{name}.jpg"
        (data / ref).parent.mkdir(parents=True, exist_ok=True)
        frame = Image.new("RGB", (1280, 720), (30, 30, 30))
        frame.paste((255, 255, 255), (600, 500, 760, 540))
        out = io.BytesIO()
        frame.save(out, "JPEG")
        (data / ref).write_bytes(out.getvalue())
        return ref

    entry_ref, exit_ref = stored("ev-entry"), stored("ev-exit")
    store_read_box(data, exit_ref, (0, 600, 500, 160, 40))
    # A car held at the exit (balance too low): its stay links the entry to the exit.
    settle(world, AIRPORT_LOT, "entry", "30G-999.99", now - timedelta(hours=5), image_ref=entry_ref)
    exit_ = settle(world, AIRPORT_LOT, "exit", "30G-999.99", now, image_ref=exit_ref)
    assert exit_.review
    pid = exit_.passage_id
    _sign_in(world, "op-b")
    c = world.client
    page = c.get(f"/dashboard/review/{pid}").text
    roles = re.findall(r'<figure class="frame-set" data-role="(\w+)"', page)
    assert roles == ["entry", "exit"]
    thumbs = re.findall(r'src="(/api/v1/passages/\d+/image\?size=thumb)"', page)
    assert len(thumbs) == 2 and f"/api/v1/passages/{pid}/image?size=thumb" == thumbs[1]
    sizes = [Image.open(io.BytesIO(c.get(t).content)).size for t in thumbs]
    assert sizes == [(320, 180), (320, 180)]  # not the 1280x720 frames
    assert f'src="/api/v1/passages/{pid}/plate"' in page
    zoom = c.get(f"/api/v1/passages/{pid}/plate")
    assert zoom.status_code == 200 and zoom.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(zoom.content)).width == 360
    entry_id = int(re.findall(r"/api/v1/passages/(\d+)/image\?size=thumb", page)[0])
    assert c.get(f"/api/v1/passages/{entry_id}/plate").status_code == 404  # no box kept
