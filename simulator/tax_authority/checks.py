"""The authority's checks on one invoice, as a pure function of the XML and two lookups.

``validate_invoice(xml, registry)`` does no I/O of its own: the registry and the numbering
ledger are passed in, so the same code runs in the app (database-backed) and in
bench/einvoice.py (in memory). It collects every problem rather than stopping at the first, so a
rejected seller learns all that is wrong at once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from lxml import etree

from einvoice.tdiep import Reason, TDiepError, safe_fromstring
from simulator.tax_authority import errors
from simulator.tax_authority.registry import NumberingLedger, SellerRegistry
from simulator.tax_authority.words import spell, words_match

if TYPE_CHECKING:
    from cryptography import x509

    from einvoice.verify import SignatureReport, VerificationReport

log = logging.getLogger("simulator.tax_authority")
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
_MCCQT_CASH = re.compile(r"^M(\d)-(\d{2})-([A-Z0-9]{5})-(\d{11})$")
_TOLERANCE = Decimal(1)  # VND: rounding of quantity x unit price and of VAT per rate
_MAX_AMOUNT = 10**18  # VND; keeps every stored amount inside a signed 64-bit column


class Mode(StrEnum):
    CASH_REGISTER = "cash_register"  # 206: the seller made the MCCQT
    AUTHORITY_CODED = "authority_coded"  # 200: the authority will assign the MCCQT
    NO_CODE = "no_code"  # 203: invoice without code


@dataclass(frozen=True)
class InvoiceFacts:
    """What the registers and pages need, read from the invoice (None when absent)."""

    template: str | None
    series: str | None
    number: int | None
    issue_date: date | None
    seller_tax_code: str | None
    seller_name: str | None
    buyer_name: str | None
    buyer_tax_code: str | None
    mccqt: str | None
    total_pretax: int | None
    total_vat: int | None
    total: int | None
    amount_in_words: str | None


@dataclass(frozen=True)
class CheckResult:
    problems: tuple[Reason, ...]
    facts: InvoiceFacts | None
    verification: VerificationReport | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(p.code for p in self.problems)


@dataclass(frozen=True)
class Checkers:
    """The two heavy checks, injectable (the defaults are the project's own XSD and verifier).

    The ``*_tree`` variants, when given, work on the tree already parsed here: same answers,
    one parse per invoice instead of three (the mock's throughput is a stated goal).
    """

    xsd_validate: Callable[[bytes], list[str]]
    verify: Callable[[bytes], VerificationReport]
    xsd_validate_tree: Callable[[etree._Element], list[str]] | None = None
    verify_tree: Callable[[etree._ElementTree], VerificationReport] | None = None


@lru_cache(maxsize=8)
def default_checkers(trusted: tuple[x509.Certificate, ...] | None = None) -> Checkers:
    """The project's XSD and verifier; ``trusted``: CA certificates signers must chain to."""
    from einvoice import verify, xsd

    def verify_bytes(xml: bytes) -> VerificationReport:
        return verify.verify_invoice(xml, trusted=trusted)

    def verify_tree(tree: etree._ElementTree) -> VerificationReport:
        try:
            return verify.verify_tree(tree, trusted)
        except Exception as exc:  # a verifier must report, never crash on hostile input
            log.exception("verification failed unexpectedly")
            return verify.VerificationReport(False, f"verification error: {exc}", ())

    return Checkers(
        xsd_validate=xsd.validate,
        verify=verify_bytes,
        xsd_validate_tree=xsd.validate_element,
        verify_tree=verify_tree,
    )


def _problem(name: str, text: str) -> Reason:
    return Reason(code=errors.code(name), text=text)


# --- reading -------------------------------------------------------------------------------


def _kids(el: etree._Element | None) -> dict[str, etree._Element]:
    """Children by tag, first one winning: one C-level pass instead of an ElementPath per field."""
    if el is None:
        return {}
    kids: dict[str, etree._Element] = {}
    for child in el:
        tag = child.tag
        if isinstance(tag, str) and tag not in kids:
            kids[tag] = child
    return kids


def _val(kids: dict[str, etree._Element], tag: str) -> str | None:
    el = kids.get(tag)
    if el is None or el.text is None:
        return None
    value = el.text.strip()
    return value or None


def _decimal(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        result = Decimal(value)
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def _int(value: str | None) -> int | None:
    dec = _decimal(value)
    if dec is None or dec != dec.to_integral_value():
        return None
    return int(dec)


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def read_facts(hdon: etree._Element) -> InvoiceFacts:
    top = _kids(hdon)
    data = _kids(top.get("DLHDon"))
    tt = _kids(data.get("TTChung"))
    nd = _kids(data.get("NDHDon"))
    seller = _kids(nd.get("NBan"))
    buyer = _kids(nd.get("NMua"))
    totals = _kids(nd.get("TToan"))
    number = _val(tt, "SHDon")
    return InvoiceFacts(
        template=_val(tt, "KHMSHDon"),
        series=_val(tt, "KHHDon"),
        number=int(number) if number and number.isdigit() else None,
        issue_date=_date(_val(tt, "NLap")),
        seller_tax_code=_val(seller, "MST"),
        seller_name=_val(seller, "Ten"),
        buyer_name=_val(buyer, "Ten") or _val(buyer, "HVTNMHang"),
        buyer_tax_code=_val(buyer, "MST"),
        mccqt=_val(top, "MCCQT"),
        total_pretax=_int(_val(totals, "TgTCThue")),
        total_vat=_int(_val(totals, "TgTThue")),
        total=_int(_val(totals, "TgTTTBSo")),
        amount_in_words=_val(totals, "TgTTTBChu"),
    )


# --- individual checks ---------------------------------------------------------------------


def _rate(tsuat: str) -> Decimal | None:
    if tsuat in ("KCT", "KKKNT"):
        return Decimal(0)
    if tsuat.endswith("%"):
        value = _decimal(tsuat[:-1])
    elif tsuat.startswith("KHAC:"):
        value = _decimal(tsuat[5:])
    else:
        return None
    return value / 100 if value is not None else None


def check_arithmetic(hdon: etree._Element, facts: InvoiceFacts) -> list[Reason]:
    """Lines, the per-rate totals and the invoice's totals must add up, and the words agree."""
    problems: list[Reason] = []
    nd = _kids(_kids(hdon).get("DLHDon")).get("NDHDon")
    if nd is None:
        return problems
    lines = [el for ds in nd.iterchildren("DSHHDVu") for el in ds.iterchildren("HHDVu")]
    per_rate = _sum_lines(lines, problems)
    totals = _kids(_kids(nd).get("TToan"))
    declared = _check_rate_totals(totals, per_rate, problems)
    discount_total = _decimal(_val(totals, "TTCKTMai")) or Decimal(0)
    _check_totals(facts, declared, discount_total, problems)
    return problems


def _sum_lines(lines: list[etree._Element], problems: list[Reason]) -> dict[str, Decimal]:
    """Each line's amount per VAT rate (a discount line counts negative); wrong lines noted."""
    per_rate: dict[str, Decimal] = {}
    for i, line_el in enumerate(lines, start=1):
        line = _kids(line_el)
        kind = _val(line, "TChat") or "1"
        if kind == "4":  # a note line carries no amount
            continue
        amount = _decimal(_val(line, "ThTien"))
        label = _val(line, "STT") or str(i)
        if amount is None:
            problems.append(_problem("LINE_AMOUNT_WRONG", f"line {label}: ThTien is missing"))
            continue
        if kind == "1":
            problems.extend(_check_line_amount(line, label, amount))
        rate = _val(line, "TSuat") or "KCT"
        sign = Decimal(-1) if kind == "3" else Decimal(1)
        per_rate[rate] = per_rate.get(rate, Decimal(0)) + sign * amount
    return per_rate


def _check_line_amount(
    line: dict[str, etree._Element], label: str, amount: Decimal
) -> list[Reason]:
    """A goods line's amount is its quantity times its price, less its discount."""
    qty = _decimal(_val(line, "SLuong"))
    price = _decimal(_val(line, "DGia"))
    discount = _decimal(_val(line, "STCKhau")) or Decimal(0)
    if qty is None or price is None:
        return []
    expected = qty * price - discount
    if abs(amount - expected) <= _TOLERANCE:
        return []
    return [
        _problem(
            "LINE_AMOUNT_WRONG", f"line {label}: ThTien {amount} != {qty} x {price} - {discount}"
        )
    ]


def _check_rate_totals(
    totals: dict[str, etree._Element], per_rate: dict[str, Decimal], problems: list[Reason]
) -> dict[str, tuple[Decimal, Decimal]]:
    """The declared (amount, VAT) per rate, checked against the rate and the lines."""
    declared: dict[str, tuple[Decimal, Decimal]] = {}
    per_rate_els = [
        el
        for group in ([totals["THTTLTSuat"]] if "THTTLTSuat" in totals else [])
        for el in group.iterchildren("LTSuat")
    ]
    for lt_el in per_rate_els:
        lt = _kids(lt_el)
        rate = _val(lt, "TSuat") or "KCT"
        amount = _decimal(_val(lt, "ThTien")) or Decimal(0)
        vat = _decimal(_val(lt, "TThue")) or Decimal(0)
        declared[rate] = (amount, vat)
        factor = _rate(rate)
        if factor is None:
            problems.append(_problem("VAT_WRONG", f"unknown VAT rate {rate!r}"))
        elif abs(vat - amount * factor) > _TOLERANCE:
            problems.append(
                _problem("VAT_WRONG", f"rate {rate}: TThue {vat} != {amount} x {factor}")
            )
        if rate not in per_rate:
            problems.append(_problem("VAT_WRONG", f"rate {rate}: no line has this rate"))
        elif per_rate[rate] != amount:
            problems.append(
                _problem(
                    "VAT_WRONG", f"rate {rate}: ThTien {amount} != sum of lines {per_rate[rate]}"
                )
            )
    for rate in per_rate.keys() - declared.keys():
        problems.append(_problem("VAT_WRONG", f"rate {rate}: lines have no LTSuat entry"))
    return declared


def _check_totals(
    facts: InvoiceFacts,
    declared: dict[str, tuple[Decimal, Decimal]],
    discount_total: Decimal,
    problems: list[Reason],
) -> None:
    """The invoice's totals are the sums of the per-rate totals, and the words spell the total."""
    sum_pretax = sum((a for a, _ in declared.values()), Decimal(0))
    sum_vat = sum((v for _, v in declared.values()), Decimal(0))
    if facts.total_pretax is None or facts.total_vat is None or facts.total is None:
        problems.append(_problem("TOTALS_WRONG", "TgTCThue, TgTThue and TgTTTBSo are required"))
        return
    if any(abs(v) >= _MAX_AMOUNT for v in (facts.total_pretax, facts.total_vat, facts.total)):
        problems.append(_problem("TOTALS_WRONG", "an amount exceeds 18 digits"))
        return
    if facts.total_pretax != sum_pretax:
        problems.append(_problem("TOTALS_WRONG", f"TgTCThue {facts.total_pretax} != {sum_pretax}"))
    if facts.total_vat != sum_vat:
        problems.append(_problem("TOTALS_WRONG", f"TgTThue {facts.total_vat} != {sum_vat}"))
    expected_total = facts.total_pretax + facts.total_vat - discount_total
    if facts.total != expected_total:
        problems.append(
            _problem(
                "TOTALS_WRONG",
                f"TgTTTBSo {facts.total} != TgTCThue + TgTThue - TTCKTMai = {expected_total}",
            )
        )
    if not words_match(facts.amount_in_words, facts.total):
        problems.append(
            _problem(
                "AMOUNT_IN_WORDS_WRONG",
                f"TgTTTBChu {facts.amount_in_words!r} does not spell {facts.total} "
                f"(e.g. {spell(facts.total)!r})",
            )
        )


def check_dates(
    facts: InvoiceFacts,
    now: datetime,
    max_age_days: int,
    signing_time: datetime | None = None,
    future_tolerance: timedelta = timedelta(minutes=5),
) -> list[Reason]:
    problems: list[Reason] = []
    today = now.astimezone(LOCAL_TZ).date()
    if facts.issue_date is None:
        return [_problem("XSD_INVALID", "NLap is missing or not a date")]
    if facts.issue_date > today:
        problems.append(_problem("DATE_IN_FUTURE", f"NLap {facts.issue_date} is after {today}"))
    elif (today - facts.issue_date).days > max_age_days:
        problems.append(
            _problem(
                "DATE_TOO_OLD",
                f"NLap {facts.issue_date} is more than {max_age_days} days before {today}",
            )
        )
    if (
        signing_time is not None
        and signing_time.tzinfo is not None
        and signing_time > now + future_tolerance
    ):
        problems.append(
            _problem("DATE_IN_FUTURE", f"signing time {signing_time.isoformat()} is ahead")
        )
    series = facts.series or ""
    if (
        len(series) >= 3
        and series[1:3].isdigit()
        and int(series[1:3]) != facts.issue_date.year % 100
    ):
        problems.append(
            _problem(
                "DATE_SERIES_YEAR_MISMATCH",
                f"series {series} is for 20{series[1:3]}, NLap is {facts.issue_date}",
            )
        )
    return problems


def check_code(facts: InvoiceFacts, mode: Mode, cash_register_code: str | None) -> list[Reason]:
    series = facts.series or ""
    if mode is not Mode.CASH_REGISTER:
        problems = []
        if facts.mccqt:
            problems.append(
                _problem("MCCQT_INVALID", f"MCCQT {facts.mccqt} sent; the authority assigns it")
            )
        expected_first = "K" if mode is Mode.NO_CODE else "C"
        if series and series[0] != expected_first:
            problems.append(
                _problem(
                    "SERIES_NOT_ALLOWED",
                    f"series {series} must start with {expected_first} for {mode.value}",
                )
            )
        return problems
    if series and series[0] != "C":
        return [_problem("SERIES_NOT_ALLOWED", f"series {series} must start with C")]
    if not facts.mccqt:
        return [_problem("MCCQT_INVALID", "cash-register invoice without MCCQT")]
    match = _MCCQT_CASH.match(facts.mccqt)
    if match is None:
        return [_problem("MCCQT_INVALID", f"MCCQT {facts.mccqt!r} is not M#-YY-XXXXX-###########")]
    template, year, code, _ = match.groups()
    problems = []
    if template != facts.template:
        problems.append(
            _problem("MCCQT_INVALID", f"MCCQT template {template} != KHMSHDon {facts.template}")
        )
    if len(series) >= 3 and year != series[1:3]:
        problems.append(_problem("MCCQT_INVALID", f"MCCQT year {year} != series {series}"))
    if cash_register_code is not None and code != cash_register_code:
        problems.append(
            _problem("MCCQT_INVALID", f"MCCQT seller code {code} is not the registered one")
        )
    return problems


def _seller_signature(report: VerificationReport | None) -> SignatureReport | None:
    for sig in report.signatures if report is not None else ():
        if sig.role == "seller":
            return sig
    return None


def check_signature(report: VerificationReport | None, facts: InvoiceFacts) -> list[Reason]:
    """The seller's signature verifies, chains to a trusted CA and names the invoice's MST."""
    seller_sig = _seller_signature(report)
    if report is None or seller_sig is None:
        reason = (report.error if report is not None else None) or (
            "no seller signature in DSCKS/NBan"
        )
        return [_problem("SIGNATURE_INVALID", str(reason))]
    if seller_sig.trusted is False:
        return [
            _problem(
                "CERT_UNTRUSTED",
                f"certificate {seller_sig.subject or ''} does not chain to a trusted CA",
            )
        ]
    if not report.valid or not seller_sig.valid:
        reason = seller_sig.reason or report.error or "signature does not verify"
        return [_problem("SIGNATURE_INVALID", str(reason))]
    if seller_sig.signer_tax_code is None:
        return [_problem("CERT_MST_MISMATCH", "the signing certificate carries no MST")]
    if seller_sig.signer_tax_code != facts.seller_tax_code:
        return [
            _problem(
                "CERT_MST_MISMATCH",
                f"certificate MST {seller_sig.signer_tax_code} != seller MST "
                f"{facts.seller_tax_code}",
            )
        ]
    return []


def _signing_time(report: VerificationReport | None) -> datetime | None:
    """The seller's signed SigningTime (aware), when the report has the seller's signature."""
    sig = _seller_signature(report)
    return sig.signing_time if sig is not None else None


# --- the whole thing -----------------------------------------------------------------------


def validate_invoice(
    xml: bytes,
    registry: SellerRegistry,
    *,
    mode: Mode = Mode.CASH_REGISTER,
    ledger: NumberingLedger | None = None,
    now: datetime | None = None,
    max_age_days: int = 30,
    checkers: Checkers | None = None,
    max_bytes: int = 1024 * 1024,
) -> CheckResult:
    """Every check the authority makes on one HDon document (bytes as received)."""
    try:
        hdon = safe_fromstring(xml, max_bytes)
    except TDiepError as exc:
        return CheckResult(problems=(_problem("XSD_INVALID", str(exc)),), facts=None)
    if hdon.tag != "HDon":
        return CheckResult(
            problems=(_problem("XSD_INVALID", f"root is {hdon.tag!r}, expected HDon"),),
            facts=None,
        )
    checkers = checkers or default_checkers()
    now = now or datetime.now(UTC)
    facts = read_facts(hdon)
    schema_errors = (
        checkers.xsd_validate_tree(hdon)
        if checkers.xsd_validate_tree is not None
        else checkers.xsd_validate(xml)
    )
    problems: list[Reason] = [_problem("XSD_INVALID", message) for message in schema_errors[:10]]
    report = (
        checkers.verify_tree(hdon.getroottree())
        if checkers.verify_tree is not None
        else checkers.verify(xml)
    )
    problems += check_signature(report, facts)

    problems += _check_seller(registry, facts, mode)
    if ledger is not None:
        problems += _check_numbering(ledger, facts)
    problems += check_arithmetic(hdon, facts)
    problems += check_dates(facts, now, max_age_days, _signing_time(report))
    return CheckResult(problems=tuple(problems), facts=facts, verification=report)


def _check_seller(registry: SellerRegistry, facts: InvoiceFacts, mode: Mode) -> list[Reason]:
    """The seller is registered, for this template and series, and the code fits the mode."""
    problems: list[Reason] = []
    seller = registry.get_seller(facts.seller_tax_code) if facts.seller_tax_code else None
    if seller is None:
        problems.append(
            _problem("SELLER_NOT_REGISTERED", f"MST {facts.seller_tax_code} is not registered")
        )
    elif facts.template and facts.series and not seller.allows(facts.template, facts.series):
        problems.append(
            _problem(
                "SERIES_NOT_ALLOWED",
                f"{facts.template}/{facts.series} is not registered for {seller.tax_code}",
            )
        )
    problems += check_code(facts, mode, seller.cash_register_code if seller else None)
    return problems


def _check_numbering(ledger: NumberingLedger, facts: InvoiceFacts) -> list[Reason]:
    """No other invoice took this number of the series (when the invoice names it fully)."""
    if (
        not facts.seller_tax_code
        or not facts.template
        or not facts.series
        or facts.number is None
        or facts.issue_date is None
    ):
        return []
    conflict = ledger.check(
        facts.seller_tax_code, facts.template, facts.series, facts.number, facts.issue_date
    )
    return [] if conflict is None else [_problem(conflict.name, conflict.text)]
