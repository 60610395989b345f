"""The public lookup asks what the authority's portal asks, and a captcha; codes alone show
nothing, so invoices cannot be browsed one after another."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from einvoice import tdiep
from simulator.tax_authority import create_app
from simulator.tax_authority.captcha import PictureCaptcha
from tests.api.tax_authority.conftest import make_settings, register_demo
from tests.unit.tax_authority.factory import SELLER_MST, KeySet, build_invoice, envelope, series

ANSWER = "K7MPX"


@pytest.fixture()
def portal(tmp_path: Path, keyset: KeySet) -> Iterator[TestClient]:
    app = create_app(
        make_settings(tmp_path),
        countersign=keyset.authority.countersign_authority,
        captcha=PictureCaptcha(answer=lambda: ANSWER),
    )
    register_demo(app)
    with TestClient(app) as client:
        reply = tdiep.parse_reply(
            client.post(
                "/api/tdiep",
                content=envelope(
                    [
                        build_invoice(keyset.seller, number=1, fare=25_000),
                        build_invoice(keyset.seller, number=2, fare=40_000),
                    ]
                ),
            ).content
        )
        assert reply.result is not None
        assert all(r.accepted for r in tdiep.parse_check_result(reply.result))
        yield client
    app.state.engine.dispose()


def _token(page: str) -> str:
    found = re.search(r'name="captcha_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def _fields(client: TestClient, **overrides: str) -> dict[str, str]:
    form = client.get("/tra-cuu").text
    fields = {
        "mst": SELLER_MST,
        "template": "1",
        "series": series(),
        "number": "2",
        "total": "40.000",
        "captcha_token": _token(form),
        "captcha_answer": ANSWER.lower(),
    }
    return {**fields, **overrides}


def test_the_portal_fields_and_captcha_find_the_invoice(portal: TestClient) -> None:
    form = portal.get("/tra-cuu")
    assert form.status_code == 200
    assert 'src="data:image/png;base64,' in form.text and ANSWER not in form.text
    found = portal.post("/tra-cuu", data=_fields(portal))
    assert found.status_code == 200, found.text
    assert 'data-testid="found"' in found.text and '<article class="invoice">' in found.text
    assert "40.000" in found.text and "Bốn mươi nghìn đồng" in found.text
    assert 'download="' in found.text and "&lt;HDon&gt;" in found.text


def test_every_field_must_match(portal: TestClient) -> None:
    for wrong in (
        {"total": "40.001"},
        {"number": "3"},
        {"mst": "0109999999"},
        {"series": "C26MZZ"},
    ):
        r = portal.post("/tra-cuu", data=_fields(portal, **wrong))
        assert r.status_code == 404, wrong
        assert 'data-testid="not-found"' in r.text and "Bốn mươi nghìn" not in r.text


def test_a_wrong_or_reused_captcha_is_refused(portal: TestClient) -> None:
    wrong = portal.post("/tra-cuu", data=_fields(portal, captcha_answer="AAAAA"))
    assert wrong.status_code == 422 and 'id="captcha-error"' in wrong.text
    assert "Bốn mươi nghìn" not in wrong.text
    fields = _fields(portal)
    assert portal.post("/tra-cuu", data=fields).status_code == 200
    again = portal.post("/tra-cuu", data=fields)  # the same token a second time
    assert again.status_code == 422 and "Bốn mươi nghìn" not in again.text
    forged = portal.post("/tra-cuu", data=_fields(portal, captcha_token="abc.99999999999.def"))
    assert forged.status_code == 422


def test_field_errors_are_shown_next_to_their_fields(portal: TestClient) -> None:
    r = portal.post("/tra-cuu", data=_fields(portal, mst="12", series="XYZ", number="0", total="x"))
    assert r.status_code == 422
    for name in ("mst", "series", "number", "total"):
        assert f'id="{name}-error"' in r.text, name
    assert 'value="12"' in r.text  # what was typed stays in the form


def test_a_code_alone_shows_nothing(portal: TestClient) -> None:
    page = portal.get("/", params={"q": "1"}).text
    mccqt = re.search(r'data-mccqt="([^"]+)"', page)
    assert mccqt
    old_qr = portal.get("/lookup", params={"code": mccqt.group(1)})
    assert old_qr.status_code == 200 and 'data-testid="portal-form"' in old_qr.text
    assert "Bốn mươi nghìn" not in old_qr.text and "25.000" not in old_qr.text


def test_captcha_tokens_expire_and_are_spent_once() -> None:
    now = [1_000_000.0]
    captcha = PictureCaptcha(clock=lambda: now[0], answer=lambda: "ACDEF")
    first = captcha.challenge()
    assert first.png.startswith(b"\x89PNG")
    assert not captcha.check(first.token, "ACDEX")
    assert not captcha.check(first.token, "ACDEF")  # spent by the wrong attempt
    second = captcha.challenge()
    now[0] += 601
    assert not captcha.check(second.token, "ACDEF")  # expired
    third = captcha.challenge()
    assert captcha.check(third.token, " acdef ")
    assert not captcha.check("garbage", "ACDEF")
    other = PictureCaptcha(answer=lambda: "ACDEF")
    assert not other.check(other.challenge().token.replace(".", ".9", 1), "ACDEF")
