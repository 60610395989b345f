"""validate_invoice: the pure checks, with an in-memory registry and ledger."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.tax_authority import errors
from simulator.tax_authority.checks import (
    Checkers,
    Mode,
    check_dates,
    read_facts,
    validate_invoice,
)
from simulator.tax_authority.registry import InMemoryLedger, InMemoryRegistry, RegisteredSeller
from tests.unit.tax_authority.factory import (
    CR_CODE,
    SELLER_MST,
    KeySet,
    build_invoice,
    now_local,
    set_text,
)

TT = "DLHDon/NDHDon/TToan"


@pytest.fixture()
def registry() -> InMemoryRegistry:
    reg = InMemoryRegistry()
    reg.add(RegisteredSeller(SELLER_MST, "Bãi đỗ xe", CR_CODE, ("1/C??M*", "1/C??T*", "1/K??T*")))
    return reg


def test_a_good_invoice_passes_every_check(keyset: KeySet, registry: InMemoryRegistry) -> None:
    result = validate_invoice(build_invoice(keyset.seller), registry, ledger=InMemoryLedger())
    assert result.ok, result.problems
    assert result.facts is not None
    assert result.facts.total == 25_000
    assert result.facts.total_pretax + result.facts.total_vat == 25_000  # type: ignore[operator]
    assert result.verification is not None and result.verification.valid


@pytest.mark.parametrize("fare", [1_000, 5_000, 7_777, 25_000, 123_456, 2_000_000])
def test_vat_split_of_any_fare_passes(
    keyset: KeySet, registry: InMemoryRegistry, fare: int
) -> None:
    result = validate_invoice(build_invoice(keyset.seller, fare=fare), registry)
    assert result.ok, result.problems


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (set_text(f"{TT}/TgTTTBSo", "25001"), "TOTALS_WRONG"),
        (set_text(f"{TT}/TgTCThue", "1"), "TOTALS_WRONG"),
        (set_text(f"{TT}/THTTLTSuat/LTSuat/TThue", "1"), "VAT_WRONG"),
        (set_text(f"{TT}/THTTLTSuat/LTSuat/TSuat", "10%"), "VAT_WRONG"),
        (set_text("DLHDon/NDHDon/DSHHDVu/HHDVu/ThTien", "20000"), "LINE_AMOUNT_WRONG"),
        (set_text(f"{TT}/TgTTTBChu", "Hai lăm nghìn đồng"), "AMOUNT_IN_WORDS_WRONG"),
        (set_text("DLHDon/TTChung/KHHDon", "C19MPK"), "DATE_SERIES_YEAR_MISMATCH"),
        (set_text("DLHDon/TTChung/KHHDon", "C26XXX"), "SERIES_NOT_ALLOWED"),
        (set_text("DLHDon/TTChung/SHDon", "123456789"), "XSD_INVALID"),
        (set_text("MCCQT", "M2-26-41849-00000000001"), "MCCQT_INVALID"),
    ],
)
def test_each_wrong_field_has_its_code(
    keyset: KeySet,
    registry: InMemoryRegistry,
    mutate,
    expected: str,
) -> None:
    result = validate_invoice(build_invoice(keyset.seller, mutate=mutate), registry)
    assert errors.code(expected) in result.codes, result.problems
    assert errors.code("SIGNATURE_INVALID") not in result.codes  # signed after the change


def test_ledger_catches_duplicates_and_order(keyset: KeySet, registry: InMemoryRegistry) -> None:
    ledger = InMemoryLedger()
    day = now_local().date()
    series = f"C{day.year % 100:02d}MPK"
    ledger.record(SELLER_MST, "1", series, 5, day)
    dup = validate_invoice(build_invoice(keyset.seller, number=5), registry, ledger=ledger)
    assert dup.codes == (errors.code("DUPLICATE_NUMBER"),)
    ledger.record(SELLER_MST, "1", series, 3, day + timedelta(days=1))  # misdated on purpose
    late = validate_invoice(build_invoice(keyset.seller, number=4), registry, ledger=ledger)
    assert late.codes == (errors.code("NUMBER_NOT_ASCENDING"),)


def test_modes(keyset: KeySet, registry: InMemoryRegistry) -> None:
    coded = build_invoice(keyset.seller, mode="authority_coded")
    assert validate_invoice(coded, registry, mode=Mode.AUTHORITY_CODED).ok
    # A 200 must not carry a code; a 206 must.
    assert errors.code("MCCQT_INVALID") in validate_invoice(coded, registry).codes
    cash = build_invoice(keyset.seller)
    result = validate_invoice(cash, registry, mode=Mode.AUTHORITY_CODED)
    assert errors.code("MCCQT_INVALID") in result.codes
    no_code = build_invoice(keyset.seller, mode="no_code")
    assert validate_invoice(no_code, registry, mode=Mode.NO_CODE).ok


def test_unregistered_and_wrong_certificate(keyset: KeySet) -> None:
    empty = InMemoryRegistry()
    result = validate_invoice(build_invoice(keyset.seller), empty)
    assert result.codes == (errors.code("SELLER_NOT_REGISTERED"),)
    reg = InMemoryRegistry()
    reg.add(RegisteredSeller(SELLER_MST, "A", CR_CODE))
    result = validate_invoice(build_invoice(keyset.other), reg)
    assert result.codes == (errors.code("CERT_MST_MISMATCH"),)


def test_altered_after_signing_and_unsigned(keyset: KeySet, registry: InMemoryRegistry) -> None:
    signed = build_invoice(keyset.seller)
    altered = signed.replace(b"<TgTTTBSo>25000<", b"<TgTTTBSo>25001<")
    assert errors.code("SIGNATURE_INVALID") in validate_invoice(altered, registry).codes
    reindented = signed.replace(b"><TTChung>", b">\n  <TTChung>")
    assert errors.code("SIGNATURE_INVALID") in validate_invoice(reindented, registry).codes
    unsigned = build_invoice(None)
    assert errors.code("SIGNATURE_INVALID") in validate_invoice(unsigned, registry).codes


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not xml",
        b"<TDiep/>",
        b'<!DOCTYPE HDon [<!ENTITY a "b">]><HDon>&a;</HDon>',
        b"<HDon/>",
    ],
)
def test_garbage_is_reported_not_raised(registry: InMemoryRegistry, data: bytes) -> None:
    result = validate_invoice(data, registry)
    assert not result.ok
    assert errors.code("XSD_INVALID") in result.codes


def test_checkers_are_injectable(registry: InMemoryRegistry, keyset: KeySet) -> None:
    from einvoice.verify import VerificationReport

    report = VerificationReport(False, "fake verifier says no", ())
    fake = Checkers(xsd_validate=lambda xml: ["fake schema error"], verify=lambda xml: report)
    result = validate_invoice(build_invoice(keyset.seller), registry, checkers=fake)
    texts = {p.text for p in result.problems}
    assert "fake schema error" in texts and "fake verifier says no" in texts


def test_dates() -> None:
    from tests.unit.tax_authority.factory import LOCAL_TZ

    now = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)  # 08:00 on 10 March in Vietnam
    base = dict(
        template="1",
        series="C26MPK",
        number=1,
        seller_tax_code=SELLER_MST,
        seller_name="A",
        buyer_name=None,
        buyer_tax_code=None,
        mccqt=None,
        total_pretax=0,
        total_vat=0,
        total=0,
        amount_in_words=None,
    )
    from simulator.tax_authority.checks import InvoiceFacts

    def codes(day: date, signing: datetime | None = None) -> set[str]:
        facts = InvoiceFacts(issue_date=day, **base)  # type: ignore[arg-type]
        return {p.code for p in check_dates(facts, now, 30, signing)}

    assert codes(date(2026, 3, 10)) == set()
    assert codes(date(2026, 3, 11)) == {errors.code("DATE_IN_FUTURE")}
    assert codes(date(2026, 2, 7)) == {errors.code("DATE_TOO_OLD")}  # 31 days before
    assert codes(date(2026, 2, 8)) == set()  # 30 days before
    ahead = datetime(2026, 3, 10, 9, 0, tzinfo=LOCAL_TZ)
    assert codes(date(2026, 3, 10), ahead) == {errors.code("DATE_IN_FUTURE")}


def test_read_facts_of_a_business_buyer(keyset: KeySet) -> None:
    from einvoice.tdiep import safe_fromstring

    business = {
        "account_id": 3,
        "kind": "business",
        "name": "Công ty CP Sao Mai",
        "tax_code": "0107777777",
        "address": "Hà Nội",
    }
    facts = read_facts(safe_fromstring(build_invoice(keyset.seller, buyer=business)))
    assert facts.buyer_name == "Công ty CP Sao Mai" and facts.buyer_tax_code == "0107777777"


@settings(max_examples=60, deadline=None)
@given(
    fare=st.integers(min_value=1, max_value=2_000_000_000),
    days_back=st.integers(min_value=0, max_value=20),
)
def test_any_fare_built_by_the_project_adds_up(fare: int, days_back: int) -> None:
    from einvoice import xml_build
    from einvoice.invoice_request import invoice_from_request
    from einvoice.tdiep import safe_fromstring
    from simulator.tax_authority.checks import check_arithmetic
    from tests.unit.tax_authority.factory import request_payload

    issued = now_local() - timedelta(days=days_back)
    invoice = invoice_from_request(
        request_payload(fare), number=1, issued_at=issued, series=f"C{issued:%y}MPK"
    )
    hdon = safe_fromstring(xml_build.to_bytes(xml_build.build_hdon(invoice)))
    facts = read_facts(hdon)
    assert facts.total == fare
    assert check_arithmetic(hdon, facts) == []


def test_absurd_amounts_are_refused(keyset: KeySet, registry: InMemoryRegistry) -> None:
    huge = "9" * 19

    def mutate(hdon):
        for path in (f"{TT}/TgTCThue", f"{TT}/TgTTTBSo"):
            hdon.find(path).text = huge

    result = validate_invoice(build_invoice(keyset.seller, mutate=mutate), registry)
    assert errors.code("TOTALS_WRONG") in result.codes
