"""Lots, gates, tariffs, passages and sessions: an operator sees only their own lots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from billing.services.seed import AIRPORT_LOT, CENTRAL_LOT
from tests.api.web.conftest import Env
from tests.api.web.helpers import settle, stay


def test_lots_by_grant(world: Env) -> None:
    c = world.client
    assert [lot["id"] for lot in c.get("/api/v1/lots", headers=world.auth("op-a")).json()] == [
        CENTRAL_LOT
    ]
    both = {lot["id"] for lot in c.get("/api/v1/lots", headers=world.auth("op-b")).json()}
    assert both == {CENTRAL_LOT, AIRPORT_LOT}
    assert c.get("/api/v1/lots", headers=world.auth("op-none")).json() == []
    assert c.get("/api/v1/lots", headers=world.auth("driver")).status_code == 403
    assert c.get("/api/v1/lots").status_code == 401


def test_lot_detail_gates_and_occupancy(world: Env) -> None:
    settle(world, CENTRAL_LOT, "entry", "30A-123.45", datetime.now(UTC) - timedelta(minutes=20))
    r = world.client.get(f"/api/v1/lots/{CENTRAL_LOT}", headers=world.auth("op-a"))
    assert r.status_code == 200
    lot = r.json()
    assert lot["occupied"] == 1 and lot["capacity"] == 120
    assert {g["direction"] for g in lot["gates"]} == {"entry", "exit"}
    assert all(g["status"] == "unknown" for g in lot["gates"])
    gates = world.client.get(f"/api/v1/lots/{CENTRAL_LOT}/gates", headers=world.auth("op-a"))
    assert gates.json() == lot["gates"]


def test_lot_of_another_operator_is_403_and_unknown_is_404(world: Env) -> None:
    h = world.auth("op-a")
    assert world.client.get(f"/api/v1/lots/{AIRPORT_LOT}", headers=h).status_code == 403
    assert world.client.get(f"/api/v1/lots/{AIRPORT_LOT}/gates", headers=h).status_code == 403
    assert world.client.get("/api/v1/lots/nowhere", headers=h).status_code == 404


def test_tariffs_with_versions(world: Env) -> None:
    r = world.client.get("/api/v1/tariffs", headers=world.auth("driver"))
    assert r.status_code == 200
    versions = [(t["id"], t["version"]) for t in r.json()]
    assert ("hn-central", "2026.1") in versions
    central = world.client.get("/api/v1/tariffs/hn-central", headers=world.auth("op-a")).json()
    assert len(central) >= 2
    assert sum(t["in_force"] for t in central) == 1
    older, newer = central[0], central[-1]
    assert older["valid_until"] is not None and older["valid_until"] < newer["valid_from"]
    car = next(c for c in newer["classes"] if c["vehicle_class"] == "car_le9")
    assert car["blocks"][0] == {"minutes": 60, "price_vnd": 25000, "count": 2}
    moto = next(c for c in newer["classes"] if c["vehicle_class"] == "motorbike")
    assert moto["per_turn"]["day_vnd"] == 5000
    assert world.client.get("/api/v1/tariffs/none", headers=world.auth("op-a")).status_code == 404
    assert world.client.get("/api/v1/tariffs").status_code == 401


def test_passages_scoped_and_filtered(world: Env) -> None:
    decision = stay(world, CENTRAL_LOT, "30A-123.45", hours=1.5)
    assert decision.open and decision.fare_vnd == 50_000
    stay(world, AIRPORT_LOT, "30E-246.80", hours=0.5)
    c = world.client
    mine = c.get("/api/v1/passages", headers=world.auth("op-a")).json()
    assert mine["total"] == 2 and {p["lot_id"] for p in mine["items"]} == {CENTRAL_LOT}
    exits = c.get("/api/v1/passages?direction=exit", headers=world.auth("op-a")).json()
    assert [p["fare_vnd"] for p in exits["items"]] == [50_000]
    assert exits["items"][0]["plate_text"] == "30A-123.45"
    everything = c.get("/api/v1/passages", headers=world.auth("op-b")).json()
    assert everything["total"] == 4
    paged = c.get("/api/v1/passages?limit=1&offset=1", headers=world.auth("op-b")).json()
    assert len(paged["items"]) == 1 and paged["total"] == 4
    newest = everything["items"][0]["id"]
    assert (
        c.get(f"/api/v1/passages?after_id={newest}", headers=world.auth("op-b")).json()["items"]
        == []
    )
    by_plate = c.get("/api/v1/passages?plate=246", headers=world.auth("op-b")).json()
    assert {p["plate_text"] for p in by_plate["items"]} == {"30E-246.80"}
    # Asking for another operator's lot by name is refused, not silently empty.
    r = c.get(f"/api/v1/passages?lot_id={AIRPORT_LOT}", headers=world.auth("op-a"))
    assert r.status_code == 403
    assert (
        c.get("/api/v1/passages?direction=sideways", headers=world.auth("op-a")).status_code == 422
    )
    assert (
        c.get("/api/v1/passages?since=2026-01-01T00:00", headers=world.auth("op-a")).status_code
        == 422
    )
    since = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    r = c.get("/api/v1/passages", params={"since": since}, headers=world.auth("op-b"))
    assert r.status_code == 200 and r.json()["total"] == 0


def test_driver_sees_only_own_passages_and_sessions(world: Env) -> None:
    stay(world, CENTRAL_LOT, "30A-123.45")  # an's car
    stay(world, CENTRAL_LOT, "29-AA 123.45")  # binh's motorbike
    c = world.client
    mine = c.get("/api/v1/passages", headers=world.auth("driver")).json()
    assert {p["plate_text"] for p in mine["items"]} == {"30A-123.45"}
    theirs = c.get("/api/v1/passages", headers=world.auth("driver2")).json()
    assert {p["plate_text"] for p in theirs["items"]} == {"29-AA 123.45"}
    other_id = theirs["items"][0]["id"]
    assert c.get(f"/api/v1/passages/{other_id}", headers=world.auth("driver")).status_code == 403
    assert c.get(f"/api/v1/passages/{other_id}", headers=world.auth("driver2")).status_code == 200
    sessions = c.get("/api/v1/sessions", headers=world.auth("driver")).json()["items"]
    assert len(sessions) == 1 and sessions[0]["plate_text"] == "30A-123.45"
    assert sessions[0]["status"] == "closed" and sessions[0]["payment"] == "charged"
    assert sessions[0]["fare_lines"]
    other_session = c.get("/api/v1/sessions", headers=world.auth("driver2")).json()["items"][0]
    r = c.get(f"/api/v1/sessions/{other_session['id']}", headers=world.auth("driver"))
    assert r.status_code == 403
    assert c.get("/api/v1/passages/99999", headers=world.auth("driver")).status_code == 404
    assert c.get("/api/v1/sessions/99999", headers=world.auth("driver")).status_code == 404


def test_operator_sessions_filters(world: Env) -> None:
    settle(world, CENTRAL_LOT, "entry", "30A-123.45", datetime.now(UTC) - timedelta(hours=1))
    stay(world, AIRPORT_LOT, "30E-246.80", hours=0.5)
    c = world.client
    open_ = c.get("/api/v1/sessions?status=open", headers=world.auth("op-b")).json()
    assert [s["plate_text"] for s in open_["items"]] == ["30A-123.45"]
    assert c.get("/api/v1/sessions", headers=world.auth("op-a")).json()["total"] == 1
    assert c.get("/api/v1/sessions?status=maybe", headers=world.auth("op-a")).status_code == 422
    airport = c.get("/api/v1/sessions", headers=world.auth("op-b"), params={"lot_id": AIRPORT_LOT})
    sid = airport.json()["items"][0]["id"]
    assert c.get(f"/api/v1/sessions/{sid}", headers=world.auth("op-a")).status_code == 403
    assert c.get(f"/api/v1/sessions/{sid}", headers=world.auth("op-b")).status_code == 200


def test_passage_image_served_from_data_dir_only(world: Env) -> None:
    frame = world.settings.data_dir / "frames" / "x.jpg"
    frame.parent.mkdir(parents=True, exist_ok=True)
    frame.write_bytes(b"\xff\xd8\xff\xe0fakejpeg")
    at = datetime.now(UTC) - timedelta(minutes=5)
    settle(world, CENTRAL_LOT, "entry", "30A-123.45", at, image_ref="frames/x.jpg")
    settle(world, CENTRAL_LOT, "entry", "29-AA 123.45", at, image_ref="../../etc/passwd")
    h = world.auth("op-a")
    items = world.client.get("/api/v1/passages", headers=h).json()["items"]
    by_plate = {p["plate_text"]: p for p in items}
    good = by_plate["30A-123.45"]
    r = world.client.get(f"/api/v1/passages/{good['id']}/image", headers=h)
    assert r.status_code == 200 and r.content.startswith(b"\xff\xd8")
    evil = by_plate["29-AA 123.45"]
    assert world.client.get(f"/api/v1/passages/{evil['id']}/image", headers=h).status_code == 404
    r = world.client.get(f"/api/v1/passages/{good['id']}/image", headers=world.auth("driver2"))
    assert r.status_code == 403


def test_passages_csv_export_is_scoped(world: Env) -> None:
    import csv
    import io

    stay(world, CENTRAL_LOT, "30A-123.45", hours=1.5)
    stay(world, AIRPORT_LOT, "30E-246.80", hours=0.5)
    r = world.client.get("/api/v1/passages.csv", headers=world.auth("op-a"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["lot_id"] for row in rows} == {CENTRAL_LOT} and len(rows) == 2
    assert [row["fare_vnd"] for row in rows] == ["50000", ""]
    r = world.client.get(
        "/api/v1/passages.csv", params={"lot_id": AIRPORT_LOT}, headers=world.auth("op-a")
    )
    assert r.status_code == 403
    assert (
        world.client.get("/api/v1/passages.csv?limit=0", headers=world.auth("op-a")).status_code
        == 422
    )
    assert world.client.get("/api/v1/passages.csv").status_code == 401


def test_passage_and_session_filters_combine_with_pages(world: Env) -> None:
    end = datetime.now(UTC) - timedelta(minutes=1)
    stay(world, CENTRAL_LOT, "30A-123.45", hours=1.5, end=end - timedelta(hours=3))
    stay(world, CENTRAL_LOT, "29C-456.78", hours=0.5, end=end)
    exit_gate = world.demo.gates[CENTRAL_LOT][1]  # type: ignore[attr-defined]
    h = world.auth("op-a")
    c = world.client
    at_exit = c.get("/api/v1/passages", params={"gate_id": exit_gate}, headers=h).json()
    assert at_exit["total"] == 2 and {p["gate_id"] for p in at_exit["items"]} == {exit_gate}
    early = c.get(
        "/api/v1/passages", params={"until": (end - timedelta(hours=2)).isoformat()}, headers=h
    ).json()
    assert {p["plate_text"] for p in early["items"]} == {"30A-123.45"}
    window = {
        "since": (end - timedelta(hours=1)).isoformat(),
        "until": (end + timedelta(seconds=1)).isoformat(),
        "direction": "entry",
    }
    late_entries = c.get("/api/v1/passages", params=window, headers=h).json()
    assert [p["plate_text"] for p in late_entries["items"]] == ["29C-456.78"]
    by_plate = c.get("/api/v1/sessions", params={"plate": "456"}, headers=h).json()
    assert [s["plate_text"] for s in by_plate["items"]] == ["29C-456.78"]
    pages = [
        c.get("/api/v1/sessions", params={"limit": 1, "offset": o}, headers=h).json()
        for o in (0, 1, 2)
    ]
    assert [p["total"] for p in pages] == [2, 2, 2]
    assert [len(p["items"]) for p in pages] == [1, 1, 0]
    assert pages[0]["items"][0]["id"] > pages[1]["items"][0]["id"]  # newest first
    assert c.get("/api/v1/sessions?limit=501", headers=h).status_code == 422
    assert c.get("/api/v1/passages?gate_id=" + "g" * 41, headers=h).status_code == 422
