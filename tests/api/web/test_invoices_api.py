"""Invoices: listed by who may see them, with status history, rejection reasons and downloads."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, update

from billing.services.seed import AIRPORT_LOT, CENTRAL_LOT
from einvoice.db import invoices, status_history
from einvoice.verify import verify_invoice
from tests.api.web.conftest import Env, issue_invoices
from tests.api.web.helpers import stay


def _two_invoices(env: Env, maker: object) -> None:
    stay(env, CENTRAL_LOT, "30A-123.45", hours=1.5)  # an: 50.000
    stay(env, AIRPORT_LOT, "29-AA 123.45", hours=1.5)  # binh, at the airport
    assert issue_invoices(env, maker) == 2


def test_driver_lists_and_downloads_own_invoice(world: Env, invoice_maker: object) -> None:
    _two_invoices(world, invoice_maker)
    h = world.auth("driver")
    page = world.client.get("/api/v1/invoices", headers=h).json()
    assert page["total"] == 1
    inv = page["items"][0]
    assert inv["total_vnd"] == 50_000 and inv["plate"] == "30A-123.45"
    assert inv["status"] == "signed" and inv["key"].startswith("1C26MPK-")
    iid = inv["id"]
    r = world.client.get(f"/api/v1/invoices/{iid}/xml", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    assert verify_invoice(r.content).valid
    html = world.client.get(f"/api/v1/invoices/{iid}/html", headers=h)
    assert html.status_code == 200 and "<svg" in html.text and "50.000" in html.text
    pdf = world.client.get(f"/api/v1/invoices/{iid}/pdf", headers=h)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    detail = world.client.get(f"/api/v1/invoices/{iid}", headers=h).json()
    assert [c["status"] for c in detail["history"]] == ["signed"]
    assert detail["rejection_reasons"] == []


def test_driver_cannot_open_someone_elses_invoice(world: Env, invoice_maker: object) -> None:
    _two_invoices(world, invoice_maker)
    theirs = world.client.get("/api/v1/invoices", headers=world.auth("driver2")).json()["items"]
    iid = theirs[0]["id"]
    for suffix in ("", "/xml", "/html", "/pdf"):
        r = world.client.get(f"/api/v1/invoices/{iid}{suffix}", headers=world.auth("driver"))
        assert r.status_code == 403, suffix
        assert world.client.get(f"/api/v1/invoices/{iid}{suffix}").status_code == 401
    assert (
        world.client.get("/api/v1/invoices/99999", headers=world.auth("driver")).status_code == 404
    )


def test_operator_sees_own_lots_invoices(world: Env, invoice_maker: object) -> None:
    _two_invoices(world, invoice_maker)
    c = world.client
    mine = c.get("/api/v1/invoices", headers=world.auth("op-a")).json()
    assert [i["lot_id"] for i in mine["items"]] == [CENTRAL_LOT]
    both = c.get("/api/v1/invoices", headers=world.auth("op-b")).json()
    assert both["total"] == 2
    assert c.get("/api/v1/invoices", headers=world.auth("op-none")).json()["total"] == 0
    airport = c.get("/api/v1/invoices", params={"lot_id": AIRPORT_LOT}, headers=world.auth("op-b"))
    assert airport.json()["total"] == 1
    r = c.get("/api/v1/invoices", params={"lot_id": AIRPORT_LOT}, headers=world.auth("op-a"))
    assert r.status_code == 403
    iid = airport.json()["items"][0]["id"]
    assert c.get(f"/api/v1/invoices/{iid}", headers=world.auth("op-a")).status_code == 403
    assert c.get("/api/v1/invoices?status=lost", headers=world.auth("op-a")).status_code == 422
    assert c.get("/api/v1/invoices?date_from=soon", headers=world.auth("op-a")).status_code == 422


def test_rejections_show_the_authoritys_reasons(world: Env, invoice_maker: object) -> None:
    _two_invoices(world, invoice_maker)
    h = world.auth("op-b")
    iid = world.client.get("/api/v1/invoices", headers=h).json()["items"][0]["id"]
    with world.session_factory() as s:
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
    rejected = world.client.get("/api/v1/invoices?status=rejected", headers=h).json()
    assert [i["id"] for i in rejected["items"]] == [iid]
    detail = world.client.get(f"/api/v1/invoices/{iid}", headers=h).json()
    assert detail["rejection_reasons"] == [{"code": "E12", "text": "MST người mua không hợp lệ"}]
    assert [c["status"] for c in detail["history"]] == ["signed", "rejected"]


def test_reconciliation_ties_passages_and_invoices(world: Env, invoice_maker: object) -> None:
    _two_invoices(world, invoice_maker)
    r = world.client.get("/api/v1/reconciliation", headers=world.auth("op-a"))
    assert r.status_code == 200, r.text
    rec = r.json()
    assert [lot["lot_id"] for lot in rec["lots"]] == [CENTRAL_LOT]
    (lot,) = rec["lots"]
    assert lot["fares_vnd"] == 50_000 and lot["invoiced_vnd"] == 50_000 and lot["invoices"] == 1
    assert rec["trial_balance_vnd"] == 0 and rec["ok"] is True
    assert (
        world.client.get(
            f"/api/v1/reconciliation?lot_id={AIRPORT_LOT}", headers=world.auth("op-a")
        ).status_code
        == 403
    )
    assert (
        world.client.get("/api/v1/reconciliation", headers=world.auth("driver")).status_code == 403
    )
    assert (
        world.client.get("/api/v1/reconciliation?day=31-12", headers=world.auth("op-a")).status_code
        == 422
    )


def test_invoice_filters_by_date_and_plate(world: Env, invoice_maker: object) -> None:
    from datetime import timedelta

    from gateway.api.reports import today_local

    _two_invoices(world, invoice_maker)
    today = today_local()
    for who, expected in (("op-b", 2), ("op-a", 1), ("admin", 2)):
        h = world.auth(who)
        found = world.client.get(
            "/api/v1/invoices", params={"date_from": today, "date_to": today}, headers=h
        ).json()
        assert found["total"] == expected, who
        none = world.client.get(
            "/api/v1/invoices", params={"date_to": today - timedelta(days=1)}, headers=h
        ).json()
        assert none["total"] == 0, who
    h = world.auth("op-b")  # two lots: the several-lots query path
    by_plate = world.client.get(
        "/api/v1/invoices", params={"plate": "29-AA 123.45"}, headers=h
    ).json()
    assert [i["plate"] for i in by_plate["items"]] == ["29-AA 123.45"]
    first = world.client.get("/api/v1/invoices", params={"limit": 1}, headers=h).json()
    second = world.client.get(
        "/api/v1/invoices", params={"limit": 1, "offset": 1}, headers=h
    ).json()
    assert first["total"] == second["total"] == 2
    assert first["items"][0]["id"] != second["items"][0]["id"]
