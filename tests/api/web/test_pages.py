"""The server-rendered pages: who may open them, what they show, and what their forms do."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from billing.adapters import orm as b
from billing.domain.vat import rate_on
from billing.services import credit_topup
from billing.services.seed import AIRPORT_LOT, CENTRAL_LOT, DemoData
from gateway.web import navigation
from tests.api.web.conftest import PASSWORD, Env, issue_invoices
from tests.api.web.helpers import settle, stay

# Every page of each menu.
OPERATOR_PAGES = tuple(item.href for item in navigation.OPERATOR)
DRIVER_PAGES = tuple(item.href for item in navigation.DRIVER)


def _sign_in(env: Env, username: str) -> None:
    r = env.client.post(
        "/login", data={"username": username, "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 303


def test_pages_need_sign_in_and_the_right_role(world: Env) -> None:
    for path in OPERATOR_PAGES + DRIVER_PAGES:
        r = world.client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}"
    _sign_in(world, "driver")
    for path in OPERATOR_PAGES:
        assert world.client.get(path).status_code == 403
    _sign_in(world, "op-a")
    for path in DRIVER_PAGES:
        assert world.client.get(path).status_code == 403


def test_operator_pages_show_their_lots_only(world: Env, invoice_maker: object) -> None:
    stay(world, CENTRAL_LOT, "30A-123.45", hours=1.5)
    stay(world, AIRPORT_LOT, "30E-246.80", hours=1.5)
    issue_invoices(world, invoice_maker)
    _sign_in(world, "op-a")
    c = world.client
    page = c.get("/dashboard").text
    assert "50.000 ₫" in page  # today's revenue of the central lot
    assert "plotly.min.js" in page and "revenue-day" in page
    assert AIRPORT_LOT not in page
    feed = c.get("/dashboard/passages").text
    assert "30A-123.45" in feed and "30E-246.80" not in feed
    invoices = c.get("/dashboard/invoices").text
    assert "30A-123.45" in invoices and "30E-246.80" not in invoices
    assert "hn-central" in c.get("/dashboard/tariffs").text


def test_the_tariffs_page_shows_the_vat_rate_invoices_use(world: Env) -> None:
    """Prices include the law's VAT rate of the day (billing.domain.vat), as the invoices and
    the ledger do; the page used to print each tariff file's own 10% in the 8% period."""
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
    rate = rate_on(today)
    _sign_in(world, "op-a")
    page = world.client.get("/dashboard/tariffs").text
    in_force = page[page.index("✓") :]  # the cards of the versions in force
    assert f"VAT {rate.percent}%" in in_force and rate.source in in_force
    assert "VAT 10%" not in in_force or rate.percent == 10


def test_review_forms_correct_and_charge_once(world: Env) -> None:
    now = datetime.now(UTC)
    settle(world, CENTRAL_LOT, "entry", "30A-123.45", now - timedelta(hours=1, minutes=30))
    pid = settle(world, CENTRAL_LOT, "exit", None, now - timedelta(minutes=1), 0.2).passage_id
    _sign_in(world, "op-a")
    c = world.client
    assert f'data-review-id="{pid}"' in c.get("/dashboard/review").text
    r = c.post(f"/dashboard/review/{pid}/correct", data={"plate": "30A-123.45"})
    # The item's own page, its new state: the priced fare fills the charge form.
    assert r.status_code == 200 and str(r.url).endswith(
        f"/dashboard/review/{pid}?msg=review_corrected"
    )
    assert (
        "50.000 ₫" in r.text
        and 'name="amount_vnd" inputmode="numeric" size="9" value="50000"' in r.text
    )
    assert "Đã sửa biển số" in r.text  # the catalogue's Vietnamese
    r = c.post(f"/dashboard/review/{pid}/charge", data={"amount_vnd": "50.000"})
    assert (
        'data-testid="review-status">đã xử lý' in r.text
        and 'data-testid="review-invoice"' in r.text
    )
    queue = c.get("/dashboard/review").text
    assert f'data-review-id="{pid}"' not in queue and f'data-resolved-id="{pid}"' in queue
    r = c.post(f"/dashboard/review/{pid}/charge")
    assert r.status_code == 422 and 'role="alert"' in r.text
    assert "Lượt này đã được thu phí." in r.text
    with world.session_factory() as s:
        acct = s.get(b.TransportAccount, world.demo.accounts["an"])  # type: ignore[attr-defined]
        assert acct is not None and acct.balance_vnd == 450_000


def test_driver_portal_top_up_vehicles_auto_top_up(world: Env) -> None:
    _sign_in(world, "driver")
    c = world.client
    page = c.get("/portal").text
    assert "500.000 ₫" in page and "30A-123.45" in page
    assert 'data-testid="low-balance"' not in page
    assert 'value="vietbank"' in page and 'value="momo"' in page  # the configured providers
    r = c.post(
        "/portal/topup",
        data={"amount_vnd": "100000", "other_amount": "250.000", "provider": "momo"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].startswith(
        "http://pay.test/checkout/momo?"
    )
    fields = dict(parse_qsl(urlsplit(r.headers["location"]).query))
    assert fields["amount_vnd"] == "250000"  # the typed amount wins over the chosen one
    ref = fields["reference"]
    pending = c.get(f"/portal/topups/{ref}")
    assert 'data-status="pending"' in pending.text and 'http-equiv="refresh"' in pending.text
    assert "500.000 ₫" in c.get("/portal").text  # nothing credited before the provider says so
    credit_topup(world.uow(), "momo", ref, "MM-1", 250_000)  # what its signed webhook does
    done = c.get(f"/portal/topups/{ref}")
    assert 'data-status="credited"' in done.text and "750.000 ₫" in done.text
    r = c.post("/portal/topup", data={"amount_vnd": "1", "provider": "momo"})
    assert r.status_code == 422 and "750.000 ₫" in r.text
    assert 'data-error-for="amount_vnd"' in r.text and "10.000 ₫" in r.text
    r = c.post("/portal/topup", data={"amount_vnd": "100000", "provider": "nobody"})
    assert r.status_code == 422 and 'data-error-for="provider"' in r.text
    r = c.post("/portal/vehicles", data={"plate": "51F-888.88", "vehicle_class": "car_le9"})
    assert 'data-vehicle="51F-888.88"' in r.text and 'data-testid="flash"' in r.text
    r = c.post("/portal/vehicles", data={"plate": "29-AA 123.45", "vehicle_class": "motorbike"})
    assert r.status_code == 422 and 'data-error-for="plate"' in r.text  # another account's
    with world.session_factory() as s:
        vid = s.scalar(select(b.Vehicle.id).where(b.Vehicle.plate_text == "51F-888.88"))
        other = s.scalar(select(b.Vehicle.id).where(b.Vehicle.plate_text == "29-AA 123.45"))
    r = c.post(f"/portal/vehicles/{other}/remove")
    assert 'role="alert"' in r.text  # not theirs
    r = c.post(f"/portal/vehicles/{vid}/remove")
    assert 'data-vehicle="51F-888.88"' not in r.text
    r = c.post(
        "/portal/auto-topup",
        data={"enabled": "on", "threshold_vnd": "60.000", "amount_vnd": "300000"},
    )
    assert r.status_code == 200 and 'data-testid="flash"' in r.text
    with world.session_factory() as s:
        acct = s.get(b.TransportAccount, world.demo.accounts["an"])  # type: ignore[attr-defined]
        assert acct is not None and acct.auto_topup_amount_vnd == 300_000
        assert acct.auto_topup_threshold_vnd == 60_000


def test_low_balance_notice(world: Env) -> None:
    with world.session_factory() as s:
        from gateway.auth.users import create_user

        create_user(s, "cuong", PASSWORD, "driver", account_id=world.demo.accounts["cuong"])  # type: ignore[attr-defined]
        s.commit()
    _sign_in(world, "cuong")
    page = world.client.get("/portal").text
    assert 'data-testid="low-balance"' in page and "10.000 ₫" in page and "50.000 ₫" in page


def test_driver_invoices_page_has_downloads_and_qr(world: Env, invoice_maker: object) -> None:
    stay(world, CENTRAL_LOT, "30A-123.45", hours=1.5)
    stay(world, CENTRAL_LOT, "29-AA 123.45", hours=1.5)
    issue_invoices(world, invoice_maker)
    _sign_in(world, "driver")
    page = world.client.get("/portal/invoices").text
    assert page.count("data-invoice-id=") == 1
    assert "/xml" in page and "/pdf" in page
    (iid,) = re.findall(r'data-invoice-id="(\d+)"', page)
    detail = world.client.get(f"/portal/invoices/{iid}").text
    assert "<svg" in detail and "/tra-cuu?ma=" in detail  # the public lookup's QR code
    trips = world.client.get("/portal/trips").text
    assert "30A-123.45" in trips and "29-AA 123.45" not in trips
    assert f'href="/portal/invoices/{iid}"' in trips  # the trip links to its invoice
    # Another driver's invoice looks like no invoice at all.
    _sign_in(world, "driver2")
    assert world.client.get(f"/portal/invoices/{iid}").status_code == 404


def test_gate_health_follows_last_will_status(world: Env) -> None:
    from billing.services import record_gate_status

    entry_gate, exit_gate = world.demo.gates[CENTRAL_LOT]  # type: ignore[attr-defined]
    at = datetime.now(UTC)
    record_gate_status(world.uow(), entry_gate, "online", at)
    record_gate_status(world.uow(), exit_gate, "offline", at)  # its last will was published
    _sign_in(world, "op-a")
    page = world.client.get("/dashboard").text
    row_in = page.split(f'data-gate="{entry_gate}"')[1].split("</tr>")[0]
    row_out = page.split(f'data-gate="{exit_gate}"')[1].split("</tr>")[0]
    assert "badge online" in row_in and "trực tuyến" in row_in
    assert "badge offline" in row_out and "mất kết nối" in row_out
    r = world.client.get(f"/api/v1/lots/{CENTRAL_LOT}/gates", headers=world.auth("op-a"))
    assert {g["id"]: g["status"] for g in r.json()} == {entry_gate: "online", exit_gate: "offline"}


def test_cookie_changes_from_another_site_are_refused(world: Env) -> None:
    _sign_in(world, "driver")
    acct = world.demo.accounts["an"]  # type: ignore[attr-defined]
    evil = {"origin": "https://evil.example"}
    form = {"amount_vnd": "100000", "provider": "vietbank"}
    r = world.client.post("/portal/topup", data=form, headers=evil)
    assert r.status_code == 403
    r = world.client.post(
        f"/api/v1/accounts/{acct}/topup-intents",
        json={"amount_vnd": 100_000, "provider": "vietbank"},
        headers=evil,
    )
    assert r.status_code == 403
    # Reading is fine, and so is a change from our own pages.
    assert world.client.get("/portal", headers=evil).status_code == 200
    own = {"origin": "http://testserver"}
    r = world.client.post("/portal/topup", data=form, headers=own, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("http://pay.test/")


def test_dashboard_filters_by_lot_and_dates(world: Env) -> None:
    stay(world, CENTRAL_LOT, "30A-123.45", hours=1.5)
    stay(world, AIRPORT_LOT, "30E-246.80", hours=1.5)
    _sign_in(world, "op-b")
    c = world.client
    both = c.get("/dashboard").text
    assert "Bãi xe Hoàn Kiếm" in both and "Sân bay Nội Bài" in both
    central = c.get(f"/dashboard?lot_id={CENTRAL_LOT}").text
    assert 'data-testid="revenue-today">50.000 ₫' in central
    assert c.get("/dashboard?day_from=2026-02-01&day_to=2026-01-01").status_code == 422
    assert c.get("/dashboard?day_from=someday").status_code == 422
    _sign_in(world, "op-a")
    assert c.get(f"/dashboard?lot_id={AIRPORT_LOT}").status_code == 403


def test_review_charge_with_an_amount_for_an_exit_without_entry(world: Env) -> None:
    now = datetime.now(UTC)
    decision = settle(world, CENTRAL_LOT, "exit", "30A-123.45", now - timedelta(minutes=2))
    assert decision.review  # no recorded entry: billed later by an operator
    pid = decision.passage_id
    _sign_in(world, "op-a")
    c = world.client
    r = c.post(f"/dashboard/review/{pid}/charge", data={"amount_vnd": "abc"})
    assert r.status_code == 422
    item = r.text.split(f'data-review-id="{pid}"')[1].split("</section>")[0]
    assert 'data-error-for="amount_vnd"' in item and "Số tiền không hợp lệ." in item
    r = c.post(f"/dashboard/review/{pid}/waive", data={"reason": " "})
    item = r.text.split(f'data-review-id="{pid}"')[1].split("</section>")[0]
    assert 'data-error-for="reason"' in item and "Hãy nêu lý do miễn phí." in item
    r = c.post(f"/dashboard/review/{pid}/charge", data={"amount_vnd": "30.000"})
    assert 'data-testid="review-status">đã xử lý' in r.text
    assert 'data-testid="charged">30.000 ₫' in r.text
    with world.session_factory() as s:
        acct = s.get(b.TransportAccount, world.demo.accounts["an"])  # type: ignore[attr-defined]
        assert acct is not None and acct.balance_vnd == 470_000


def test_operator_invoices_page_shows_the_authoritys_rejection_reasons(
    world: Env, invoice_maker: object
) -> None:
    from sqlalchemy import insert, update

    from einvoice.db import invoices, status_history

    stay(world, CENTRAL_LOT, "30A-123.45", hours=1.5)
    stay(world, CENTRAL_LOT, "29-AA 123.45", hours=1.5)
    assert issue_invoices(world, invoice_maker) == 2
    with world.session_factory() as s:
        iid = s.scalar(select(invoices.c.id).where(invoices.c.plate == "30A-123.45"))
        s.execute(update(invoices).where(invoices.c.id == iid).values(status="rejected"))
        s.execute(
            insert(status_history).values(
                invoice_id=iid,
                status="rejected",
                at=datetime.now(UTC),
                detail={"reasons": [{"code": "E12", "text": "MST người mua không hợp lệ"}]},
            )
        )
        s.commit()
    _sign_in(world, "op-a")
    page = world.client.get("/dashboard/invoices").text
    row = page.split(f'data-invoice-id="{iid}"')[1].split("</tr>")[0]
    assert "badge rejected" in row and "CQT từ chối" in row
    assert "E12" in row and "MST người mua không hợp lệ" in row
    assert "/xml" in row and "/pdf" in row and "/html" in row
    others = page.split('data-invoice-id="')[1:]
    assert len(others) == 2 and sum("E12" in o for o in others) == 1
    only = world.client.get("/dashboard/invoices?status=rejected").text
    assert only.count("data-invoice-id=") == 1 and f'data-invoice-id="{iid}"' in only


def test_review_waive_form_leaves_an_audit_trail(world: Env) -> None:
    now = datetime.now(UTC)
    pid = settle(world, CENTRAL_LOT, "exit", None, now - timedelta(minutes=1), 0.2).passage_id
    _sign_in(world, "op-a")
    c = world.client
    page = c.get("/dashboard/review").text
    item = page.split(f'data-review-id="{pid}"')[1].split("</section>")[0]
    assert "không đọc được biển số" in item  # the decision code in words
    assert f"/api/v1/passages/{pid}/image" not in item  # no stored frame: none shown
    r = c.post(f"/dashboard/review/{pid}/waive", data={"reason": "xe cứu thương"})
    assert 'data-testid="review-status">đã xử lý' in r.text and "Đã miễn phí lượt này." in r.text
    assert "xe cứu thương" in r.text.split('class="trail"')[1]
    queue = c.get("/dashboard/review").text
    assert f'data-review-id="{pid}"' not in queue
    resolved = queue.split(f'data-resolved-id="{pid}"')[1].split("</li>")[0]
    assert "op-a" in resolved and "miễn phí" in resolved
    with world.session_factory() as s:
        from gateway.orm import AuditEntry

        entry = s.scalars(
            select(AuditEntry).where(
                AuditEntry.target_kind == "passage", AuditEntry.target_id == str(pid)
            )
        ).one()
    assert entry.action == "review.waive" and entry.detail == {"reason": "xe cứu thương"}
    assert entry.username == "op-a"
    acct = int(world.demo.accounts["an"])  # type: ignore[attr-defined]
    with world.session_factory() as s:
        fares = s.scalar(
            select(func.count()).where(
                b.JournalEntry.account_id == acct, b.JournalEntry.kind == "fare"
            )
        )
    assert fares == 0


def test_pages_load_nothing_from_other_hosts(world: Env, invoice_maker: object) -> None:
    """No CDN: the machines have no internet, so every script, style and image is ours."""
    stay(world, CENTRAL_LOT, "30A-123.45", hours=1.5)
    issue_invoices(world, invoice_maker)
    external = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.I)
    for who, paths in (("op-b", OPERATOR_PAGES), ("driver", DRIVER_PAGES)):
        _sign_in(world, who)
        for path in paths:
            r = world.client.get(path)
            assert r.status_code == 200, path
            assert not external.findall(r.text), path
    _sign_in(world, "op-b")
    assert '<script src="/static/vendor/plotly.min.js?v=' in world.client.get("/dashboard").text


def test_codes_and_states_are_shown_in_words_in_both_languages(world: Env) -> None:
    stay(world, CENTRAL_LOT, "30A-123.45", hours=1.5)
    settle(world, CENTRAL_LOT, "entry", "30A-123.45", datetime.now(UTC) - timedelta(seconds=30))
    _sign_in(world, "op-a")
    c = world.client
    feed = c.get("/dashboard/passages").text
    assert "đã trừ phí" in feed and ">exit_paid<" not in feed
    assert "(vận hành)" in feed
    c.get("/lang/en")
    feed = c.get("/dashboard/passages").text
    assert ">paid<" in feed and "(operator)" in feed
    tariffs = c.get("/dashboard/tariffs").text
    assert "Daily cap" in tariffs and "Monthly passes" in tariffs and "day and night" in tariffs
    c.get("/lang/vi")
    tariffs = c.get("/dashboard/tariffs").text
    assert "Trần mỗi ngày" in tariffs and "Vé tháng" in tariffs and ">Cap<" not in tariffs
    _sign_in(world, "driver")
    trips = c.get("/portal/trips").text
    assert "đang gửi" in trips and "đã thu" in trips


def test_review_item_shows_every_frame_the_gate_sent(world: Env) -> None:
    from gateway.images import store_frames
    from gateway.protocol import GateEvent

    assert isinstance(world.demo, DemoData)
    now = datetime.now(UTC)
    frames = tuple(b"\xff\xd8\xff\xe0frame-%d" % n for n in range(3))
    event = GateEvent(
        event_id=f"ev-frames-{now.timestamp():.0f}",
        lot_id=CENTRAL_LOT,
        gate_id=world.demo.gates[CENTRAL_LOT][1],
        direction="exit",
        captured_at=now - timedelta(minutes=1),
        frames=frames,
        plate_crop=b"\xff\xd8\xff\xe0crop",
    )
    ref = store_frames(world.settings.data_dir, event)
    pid = settle(world, CENTRAL_LOT, "exit", None, event.captured_at, 0.2, image_ref=ref)
    _sign_in(world, "op-a")
    c = world.client
    item = c.get("/dashboard/review").text.split(f'data-review-id="{pid.passage_id}"')[1]
    item = item.split("</section>")[0]
    # A thumbnail of the first frame links to it; the others are linked by number.
    assert f'src="/api/v1/passages/{pid.passage_id}/image?size=thumb"' in item
    hrefs = re.findall(r'href="(/api/v1/passages/\d+/image(?:\?frame=\d)?)"', item)
    base = f"/api/v1/passages/{pid.passage_id}/image"
    assert hrefs == [base, f"{base}?frame=1", f"{base}?frame=2"]
    srcs = [base + "?frame=0", *hrefs[1:]]
    assert [c.get(src).content for src in srcs] == list(frames)
    assert c.get(f"/api/v1/passages/{pid.passage_id}/image?frame=3").status_code == 404
    assert c.get(f"/api/v1/passages/{pid.passage_id}/image?frame=9").status_code == 422


def test_gate_health_shows_events_waiting_for_their_decision(world: Env) -> None:
    """What the gates report through the consumer of this process: the count, and past the
    alert threshold, marked as bad."""
    from types import SimpleNamespace

    from gateway.metrics import Metrics
    from gateway.protocol import GateStatus

    entry_gate, exit_gate = world.demo.gates[CENTRAL_LOT]  # type: ignore[attr-defined]
    metrics = Metrics()
    metrics.gate_health.alert_after_s = 30
    for gate, waiting, oldest in ((entry_gate, 0, None), (exit_gate, 3, 95.0)):
        metrics.gate_health.record(
            GateStatus(
                lot_id=CENTRAL_LOT,
                gate_id=gate,
                online=True,
                at=datetime.now(UTC),
                unanswered=waiting,
                oldest_unanswered_s=oldest,
            )
        )
    app = world.client.app
    app.state.container = SimpleNamespace(metrics=metrics)  # type: ignore[attr-defined]
    try:
        _sign_in(world, "op-a")
        page = world.client.get("/dashboard").text
    finally:
        app.state.container = None  # type: ignore[attr-defined]
    row_in = page.split(f'data-gate="{entry_gate}"')[1].split("</tr>")[0]
    row_out = page.split(f'data-gate="{exit_gate}"')[1].split("</tr>")[0]
    assert 'data-unanswered="0"' in row_in
    assert 'data-unanswered="3"' in row_out
    assert re.search(r'class="bad">3 \(9[5-9] s\)', row_out)  # waited 95 s and counting
    assert "Chờ quyết định" in page


def test_gate_health_shows_a_lot_running_offline(world: Env) -> None:
    """A gate whose edge decides alone (its status says so) is marked "running offline", with
    its decisions still waiting for the center; the other gate is not."""
    from types import SimpleNamespace

    from gateway.metrics import Metrics
    from gateway.protocol import GateStatus

    entry_gate, exit_gate = world.demo.gates[CENTRAL_LOT]  # type: ignore[attr-defined]
    metrics = Metrics()
    for gate, offline, pending in ((entry_gate, False, 0), (exit_gate, True, 4)):
        metrics.gate_health.record(
            GateStatus(
                lot_id=CENTRAL_LOT,
                gate_id=gate,
                online=True,
                at=datetime.now(UTC),
                unanswered=pending,
                deciding_offline=offline,
                offline_pending=pending,
            )
        )
    assert metrics.gate_health.lots_offline() == [CENTRAL_LOT]
    app = world.client.app
    app.state.container = SimpleNamespace(metrics=metrics)  # type: ignore[attr-defined]
    try:
        _sign_in(world, "op-a")
        page = world.client.get("/dashboard?lang=en").text
    finally:
        app.state.container = None  # type: ignore[attr-defined]
    row_in = page.split(f'data-gate="{entry_gate}"')[1].split("</tr>")[0]
    row_out = page.split(f'data-gate="{exit_gate}"')[1].split("</tr>")[0]
    assert "data-running-offline" not in row_in
    assert 'data-running-offline="4"' in row_out
