"""Handling one TDiep: technical acknowledgement, checks, storage, coding, business result.

Idempotent by MTDiep: the answer to every readable message is stored with it, and a resend of
the same message id gets that stored answer back, byte for byte, without a second record.
Processing is serialized by a lock: the mock favours simple correctness over throughput (the
pure checks are benchmarked on their own).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from einvoice import tdiep
from einvoice.tdiep import Header, InvoiceResult, MessageType, Reason, TDiepError
from simulator.tax_authority import errors
from simulator.tax_authority.checks import Checkers, CheckResult, Mode, validate_invoice
from simulator.tax_authority.db import InvoiceRow, MessageRow, RejectionRow
from simulator.tax_authority.settings import TaxAuthoritySettings
from simulator.tax_authority.store import DbLedger, DbRegistry, next_authority_code

if TYPE_CHECKING:
    from einvoice.verify import VerificationReport

log = logging.getLogger("simulator.tax_authority")

ACCEPTED_TYPES = {
    MessageType.CODING_REQUEST: Mode.AUTHORITY_CODED,
    MessageType.NO_CODE_INVOICE: Mode.NO_CODE,
    MessageType.CASH_REGISTER: Mode.CASH_REGISTER,
}
_KEEP_REJECTED_BYTES = 256 * 1024

# Takes an HDon (MCCQT inserted) and adds DSCKS/CQT; returns the element (or None: in place).
# Signs the coded invoice as the authority: in place (None), or the signed copy.
Countersign = Callable[[etree._Element], bytes | etree._Element | None]


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    resent: bool = False


PLATE_FIELD = "Biển số xe"


def plate_key_of(hdon: etree._Element) -> str | None:
    """The plate an invoice names in its extras, letters and digits only (None without one)."""
    for info in hdon.iterfind("DLHDon/TTKhac/TTin"):
        if (info.findtext("TTruong") or "").strip() == PLATE_FIELD:
            return search_key(info.findtext("DLieu") or "") or None
    return None


def search_key(text: str) -> str:
    """Upper-case letters and digits: how plates (and what officers type) are compared."""
    return "".join(ch for ch in text.upper().replace("Đ", "D") if ch.isascii() and ch.isalnum())


@dataclass
class TaxAuthority:
    settings: TaxAuthoritySettings
    sessions: sessionmaker[Session]
    countersign: Countersign | None = None
    checkers: Checkers | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # --- entry point -----------------------------------------------------------------------

    def handle(self, body: bytes) -> Answer:
        try:
            message = tdiep.parse(body, self.settings.max_body_bytes)
        except TDiepError as exc:
            return self._technical_reject(body, None, exc.kind, str(exc))
        header = message.header
        if header.type == MessageType.ERROR_NOTICE:
            return self._with_idempotency(body, message, self._receive_notice)
        if header.type not in ACCEPTED_TYPES:
            return self._technical_reject(
                body, header, "unknown_type", f"MLTDiep {header.type} is not accepted"
            )
        problem = envelope_problem(
            header, len(message.invoices()), self.settings.max_invoices_per_message
        )
        if problem is not None:
            return self._technical_reject(body, header, *problem)
        return self._with_idempotency(body, message, self._process_invoices)

    # --- technical answers -----------------------------------------------------------------

    def _ack(self, header: Header | None, received: bool, reasons: tuple[Reason, ...]) -> bytes:
        return tdiep.build_ack(
            header.message_id if header else "",
            sender=self.settings.code,
            receiver=header.sender if header else "",
            received=received,
            reasons=reasons,
            tax_code=header.tax_code if header else None,
        )

    def _technical_reject(self, body: bytes, header: Header | None, kind: str, text: str) -> Answer:
        code = errors.TECHNICAL_BY_KIND[kind]
        reasons = (Reason(code=code, text=text),)
        log.warning(
            "tax authority: message %s unreadable (%s): %s",
            header.message_id if header else "?",
            code,
            text,
        )
        with self.sessions.begin() as session:
            session.add(
                RejectionRow(
                    message_id=header.message_id if header else "",
                    message_type=header.type if header else 0,
                    seller_tax_code=_clip(header.tax_code, 14) if header else None,
                    reasons=[{"code": code, "text": text}],
                    original_xml=body[:_KEEP_REJECTED_BYTES],
                    note="technical",
                )
            )
        status = 413 if kind == "too_large" else 400
        return Answer(status, tdiep.build_reply(self._ack(header, False, reasons)))

    # --- idempotency -----------------------------------------------------------------------

    def _with_idempotency(
        self,
        body: bytes,
        message: tdiep.Message,
        process: Callable[[Session, tdiep.Message], tuple[bytes | None, int, int]],
    ) -> Answer:
        header = message.header
        digest = hashlib.sha256(body).hexdigest()
        with self._lock, self.sessions.begin() as session:
            stored = session.scalar(
                select(MessageRow).where(MessageRow.message_id == header.message_id)
            )
            if stored is not None:
                stored.resend_count += 1
                if stored.body_sha256 != digest:
                    log.warning(
                        "tax authority: MTDiep %s resent with different content; "
                        "returning the stored answer",
                        header.message_id,
                    )
                return Answer(stored.http_status, stored.response_xml, resent=True)
            result, accepted, rejected = process(session, message)
            reply = tdiep.build_reply(self._ack(header, True, ()), result)
            session.add(
                MessageRow(
                    message_id=header.message_id,
                    sender=header.sender[:64],
                    type=header.type,
                    tax_code=_clip(header.tax_code, 14),
                    received_at=self.clock(),
                    body_sha256=digest,
                    request_xml=body,
                    response_xml=reply,
                    http_status=200,
                    accepted_count=accepted,
                    rejected_count=rejected,
                )
            )
        log.info(
            "tax authority: message %s type %s: %d accepted, %d rejected",
            header.message_id,
            header.type,
            accepted,
            rejected,
        )
        return Answer(200, reply)

    # --- business processing ---------------------------------------------------------------

    def _receive_notice(self, session: Session, message: tdiep.Message) -> tuple[None, int, int]:
        # A 300 is recorded with the message; the 999 is its whole answer in the mock.
        return None, 0, 0

    def _process_invoices(self, session: Session, message: tdiep.Message) -> tuple[bytes, int, int]:
        header = message.header
        mode = ACCEPTED_TYPES[MessageType(header.type)]
        results: list[InvoiceResult] = []
        coded: etree._Element | None = None
        for hdon in message.invoices():
            result, coded_el = self._process_one(session, header, mode, hdon)
            results.append(result)
            coded = coded_el if coded_el is not None else coded
        accepted = sum(1 for r in results if r.accepted)
        rejected = len(results) - accepted
        if header.type == MessageType.CODING_REQUEST and coded is not None:
            body = tdiep.build(
                Header(
                    sender=self.settings.code,
                    receiver=header.sender,
                    type=MessageType.CODED_INVOICE,
                    message_id=tdiep.new_message_id(self.settings.code),
                    reference_id=header.message_id,
                    tax_code=header.tax_code,
                    count=1,
                ),
                [coded],
            )
            return body, accepted, rejected
        body = tdiep.build_check_result(header, results, sender=self.settings.code)
        return body, accepted, rejected

    def _process_one(
        self, session: Session, header: Header, mode: Mode, hdon: etree._Element
    ) -> tuple[InvoiceResult, etree._Element | None]:
        xml = tdiep.hdon_bytes(hdon)
        content_sha = hashlib.sha256(xml).hexdigest()
        same = session.scalar(select(InvoiceRow).where(InvoiceRow.content_sha256 == content_sha))
        if same is not None:
            # The very same invoice again (a resend under a new MTDiep): same answer, no record.
            coded = (
                tdiep.safe_fromstring(same.coded_xml, len(same.coded_xml))
                if same.coded_xml
                else None
            )
            return _accepted_result(same), coded

        check = validate_invoice(
            xml,
            DbRegistry(session),
            mode=mode,
            ledger=DbLedger(session),
            now=self.clock(),
            max_age_days=self.settings.max_invoice_age_days,
            checkers=self.checkers,
            max_bytes=self.settings.max_body_bytes,
        )
        problems = list(check.problems)
        facts = check.facts
        if facts is not None and header.tax_code and facts.seller_tax_code != header.tax_code:
            problems.append(
                Reason(
                    errors.code("MESSAGE_MST_MISMATCH"),
                    f"header MST {header.tax_code} != seller MST {facts.seller_tax_code}",
                )
            )
        if mode is Mode.CASH_REGISTER and facts is not None and facts.mccqt:
            taken = session.scalar(select(InvoiceRow.id).where(InvoiceRow.mccqt == facts.mccqt))
            if taken is not None:
                problems.append(
                    Reason(errors.code("DUPLICATE_NUMBER"), f"MCCQT {facts.mccqt} already used")
                )
        if problems or facts is None:
            return self._reject(session, header, check, tuple(problems), xml), None
        return self._accept(session, header, mode, hdon, xml, content_sha, check)

    def _reject(
        self,
        session: Session,
        header: Header,
        check: CheckResult,
        problems: tuple[Reason, ...],
        xml: bytes,
    ) -> InvoiceResult:
        facts = check.facts
        session.add(
            RejectionRow(
                message_id=header.message_id,
                message_type=header.type,
                seller_tax_code=_clip(facts.seller_tax_code if facts else header.tax_code, 14),
                template=(facts.template or "")[:1] if facts else None,
                series=(facts.series or "")[:6] if facts else None,
                number=facts.number if facts else None,
                issue_date=facts.issue_date if facts else None,
                received_at=self.clock(),
                reasons=[{"code": p.code, "text": p.text} for p in problems],
                original_xml=xml[:_KEEP_REJECTED_BYTES],
            )
        )
        log.info(
            "tax authority: invoice %s/%s/%s of %s rejected: %s",
            facts.template if facts else "?",
            facts.series if facts else "?",
            facts.number if facts else "?",
            facts.seller_tax_code if facts else "?",
            ", ".join(p.code for p in problems),
        )
        return InvoiceResult(
            accepted=False,
            template=facts.template if facts else None,
            series=facts.series if facts else None,
            number=facts.number if facts else None,
            issue_date=facts.issue_date.isoformat() if facts and facts.issue_date else None,
            mccqt=facts.mccqt if facts else None,
            reasons=problems,
        )

    def _accept(
        self,
        session: Session,
        header: Header,
        mode: Mode,
        hdon: etree._Element,
        xml: bytes,
        content_sha: str,
        check: CheckResult,
    ) -> tuple[InvoiceResult, etree._Element | None]:
        facts = check.facts
        assert facts is not None and facts.seller_tax_code and facts.template and facts.series
        assert facts.number is not None and facts.issue_date is not None
        coded_xml: bytes | None = None
        coded: etree._Element | None = None
        if mode is Mode.CASH_REGISTER:
            mccqt = facts.mccqt or ""
        else:
            mccqt = next_authority_code(
                session, facts.seller_tax_code, facts.template, facts.series
            )
        if mode is Mode.AUTHORITY_CODED:
            coded = self._code_and_countersign(hdon, mccqt)
            coded_xml = tdiep.hdon_bytes(coded)
        row = InvoiceRow(
            mccqt=mccqt,
            mode=mode.value,
            seller_tax_code=facts.seller_tax_code,
            seller_name=facts.seller_name or "",
            buyer_name=facts.buyer_name,
            buyer_tax_code=facts.buyer_tax_code,
            template=facts.template,
            series=facts.series,
            number=facts.number,
            issue_date=facts.issue_date,
            total_pretax=facts.total_pretax or 0,
            total_vat=facts.total_vat or 0,
            total=facts.total or 0,
            plate_key=plate_key_of(hdon),
            received_at=self.clock(),
            message_id=header.message_id,
            content_sha256=content_sha,
            original_xml=xml,
            coded_xml=coded_xml,
            signature_report=report_as_dict(check.verification),
        )
        session.add(row)
        session.flush()
        return _accepted_result(row), coded

    def _code_and_countersign(self, hdon: etree._Element, mccqt: str) -> etree._Element:
        if self.countersign is None:
            raise RuntimeError("the tax authority has no signing key configured")
        coded = tdiep.safe_fromstring(tdiep.hdon_bytes(hdon))
        insert_mccqt(coded, mccqt)
        signed = self.countersign(coded)
        if signed is None:
            return coded
        if isinstance(signed, bytes):
            return tdiep.safe_fromstring(signed, len(signed))
        return signed


def _clip(value: str | None, size: int) -> str | None:
    """Unchecked text from a refused message, cut to its column (PostgreSQL would refuse it)."""
    return value[:size] if value is not None else None


def insert_mccqt(hdon: etree._Element, mccqt: str) -> etree._Element:
    """Put MCCQT (with an Id the CQT signature references) after DLHDon/DLQRCode, before DSCKS."""
    existing = hdon.find("MCCQT")
    if existing is not None:
        hdon.remove(existing)
    el = etree.Element("MCCQT")
    el.set("Id", "Id-MCCQT")
    el.text = mccqt
    anchor = hdon.find("DLQRCode")
    if anchor is None:
        anchor = hdon.find("DLHDon")
    if anchor is not None:
        anchor.addnext(el)
    else:
        hdon.insert(0, el)
    return el


def _accepted_result(row: InvoiceRow) -> InvoiceResult:
    return InvoiceResult(
        accepted=True,
        template=row.template,
        series=row.series,
        number=row.number,
        issue_date=row.issue_date.isoformat(),
        mccqt=row.mccqt,
    )


def report_as_dict(report: VerificationReport | None) -> dict[str, object]:
    """A JSON-able copy of a VerificationReport for the tax-office page."""
    if report is None:
        return {}

    def plain(value: object) -> str | int | float | bool | None:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        return str(value)

    return {
        "valid": bool(getattr(report, "valid", False)),
        "error": plain(getattr(report, "error", None)),
        "signatures": [
            {
                name: plain(getattr(sig, name, None))
                for name in (
                    "role",
                    "valid",
                    "algorithm",
                    "signer_tax_code",
                    "signing_time",
                    "reason",
                )
            }
            for sig in getattr(report, "signatures", ())
        ],
    }


def envelope_problem(header: Header, count: int, max_invoices: int) -> tuple[str, str] | None:
    """What is wrong with an envelope of ``count`` invoices: (kind, text), or None."""
    if not count:
        return "envelope", "DLieu carries no HDon"
    if count > max_invoices:
        return "too_many", f"{count} invoices, at most {max_invoices}"
    if header.type == MessageType.CODING_REQUEST and count != 1:
        return "envelope", "a 200 carries one HDon"
    if header.count != count:
        return "envelope", f"SLuong {header.count} != {count} HDon"
    return None
