"""Revenue and occupancy reports for an operator's own lots; CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from billing.services.seed import AIRPORT_LOT, CENTRAL_LOT
from gateway.api.reports import today_local
from tests.api.web.conftest import Env
from tests.api.web.helpers import settle, stay


def test_revenue_by_day_lot_class(world: Env) -> None:
    stay(world, CENTRAL_LOT, "30A-123.45", hours=1.5)  # car: 2 x 25.000
    stay(world, CENTRAL_LOT, "29C-456.78", hours=0.5)  # truck: 40.000
    stay(world, AIRPORT_LOT, "30E-246.80", hours=0.5)
    r = world.client.get("/api/v1/reports/revenue", headers=world.auth("op-a"))
    assert r.status_code == 200
    report = r.json()
    assert report["day_to"] == today_local().isoformat()
    assert {
        (row["lot_id"], row["vehicle_class"], row["revenue_vnd"]) for row in report["rows"]
    } == {
        (CENTRAL_LOT, "car_le9", 50_000),
        (CENTRAL_LOT, "car_gt9_truck", 40_000),
    }
    assert report["total_vnd"] == 90_000
    everything = world.client.get("/api/v1/reports/revenue", headers=world.auth("op-b")).json()
    assert everything["total_vnd"] > 90_000
    assert {row["lot_id"] for row in everything["rows"]} == {CENTRAL_LOT, AIRPORT_LOT}


def test_revenue_bad_input_and_scope(world: Env) -> None:
    h = world.auth("op-a")
    c = world.client
    assert c.get(f"/api/v1/reports/revenue?lot_id={AIRPORT_LOT}", headers=h).status_code == 403
    assert (
        c.get(
            "/api/v1/reports/revenue?day_from=2026-02-01&day_to=2026-01-01", headers=h
        ).status_code
        == 422
    )
    assert (
        c.get(
            "/api/v1/reports/revenue?day_from=2020-01-01&day_to=2026-01-01", headers=h
        ).status_code
        == 422
    )
    assert c.get("/api/v1/reports/revenue?day_from=yesterday", headers=h).status_code == 422
    assert c.get("/api/v1/reports/revenue", headers=world.auth("driver")).status_code == 403
    assert c.get("/api/v1/reports/revenue").status_code == 401
    # A business-rule 422 has the same shape as FastAPI's own validation errors.
    r = c.get("/api/v1/reports/revenue?day_from=2026-02-01&day_to=2026-01-01", headers=h)
    assert r.json()["detail"][0]["loc"] == ["query", "day_from"]
    csv_url = "/api/v1/reports/revenue.csv"
    assert c.get(f"{csv_url}?lot_id={AIRPORT_LOT}", headers=h).status_code == 403
    assert c.get(csv_url, headers=world.auth("driver")).status_code == 403
    assert c.get(csv_url).status_code == 401


def test_revenue_csv(world: Env) -> None:
    stay(world, CENTRAL_LOT, "30A-123.45", hours=1.5)
    r = world.client.get("/api/v1/reports/revenue.csv", headers=world.auth("op-a"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows == [
        {
            "day": today_local().isoformat(),
            "lot_id": CENTRAL_LOT,
            "vehicle_class": "car_le9",
            "sessions": "1",
            "revenue_vnd": "50000",
        }
    ]


def test_occupancy_now_and_over_day(world: Env) -> None:
    now = datetime.now(UTC)
    entries = [now - timedelta(minutes=30), now - timedelta(minutes=10)]
    settle(world, CENTRAL_LOT, "entry", "30A-123.45", entries[0])
    settle(world, CENTRAL_LOT, "entry", "29C-456.78", entries[1])
    r = world.client.get("/api/v1/reports/occupancy", headers=world.auth("op-a"))
    assert r.status_code == 200
    (lot,) = r.json()
    assert lot["lot_id"] == CENTRAL_LOT and lot["now"] == 2 and lot["capacity"] == 120
    assert lot["over_day"], "one point per hour of today"
    for point in lot["over_day"]:
        at = datetime.fromisoformat(point["at"])
        assert point["vehicles"] == sum(1 for e in entries if e <= at)
    assert (
        world.client.get("/api/v1/reports/occupancy", headers=world.auth("driver")).status_code
        == 403
    )
    r = world.client.get(
        f"/api/v1/reports/occupancy?lot_id={AIRPORT_LOT}", headers=world.auth("op-a")
    )
    assert r.status_code == 403
