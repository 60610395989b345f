"""Invoices emailed to the buyers who asked for them (a company's accountant): one notice per
invoice, key ``invoice_email:<invoice id>``, to the email the invoice request named, with the
signed XML and a PDF copy attached and the public lookup link in the text.

An invoice goes out once it is valid: a cash-register invoice when it is signed (the seller
makes its code), an authority-coded one when the authority has accepted it (its code and
countersignature are then in the attached XML). A rejected invoice is never sent. The notice
worker retries a failed send and delivers it once (gateway.notices.worker).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from billing.domain.vn import LOCAL_TZ
from einvoice.db import ACCEPTED, AUTHORITY_CODED, CASH_REGISTER, REJECTED, invoices
from gateway.notices.port import Attachment, Channel
from gateway.notices.queue import enqueue
from gateway.orm import Notice, User
from gateway.web.formatting import vnd

log = logging.getLogger(__name__)

INVOICE_ISSUED = "invoice_issued"


def _key(invoice_id: int) -> str:
    return f"invoice_email:{invoice_id}"


def invoice_emails(
    session: Session,
    channels: Iterable[Channel],
    now: datetime,
    window: timedelta,
    public_url: str,
    limit: int = 200,
) -> int:
    """A notice for every valid invoice issued since ``now - window`` whose buyer gave an
    invoice email and that has none yet; returns how many were written."""
    if "email" not in set(channels):
        return 0
    inv = invoices.c
    valid = or_(
        and_(inv.mode == CASH_REGISTER, inv.status != REJECTED),
        and_(inv.mode == AUTHORITY_CODED, inv.status == ACCEPTED),
    )
    rows = session.execute(
        select(invoices)
        .where(inv.buyer_email.is_not(None), inv.issued_at >= now - window, valid)
        .order_by(inv.id)
        .limit(limit)
    ).all()
    keys = {_key(r.id): r for r in rows}
    if not keys:
        return 0
    seen = set(session.scalars(select(Notice.key).where(Notice.key.in_(list(keys)))))
    written = 0
    for key, r in keys.items():
        if key in seen:
            continue
        enqueue(
            session,
            key=key,
            kind=INVOICE_ISSUED,
            code="notice_invoice_issued",
            params=_params(r, public_url),
            lang=_lang(session, r.buyer_account_id),
            to=[("email", r.buyer_email)],
            account_id=int(r.buyer_account_id) if str(r.buyer_account_id).isdigit() else None,
        )
        written += 1
    return written


def _params(r: Any, public_url: str) -> dict[str, Any]:
    from einvoice.render import public_lookup_url

    return {
        "invoice_id": r.id,
        "invoice": f"{r.template}{r.series}-{r.number:08d}",
        "seller": r.seller_name,
        "buyer": r.buyer_name or "",
        "tax_code": r.buyer_tax_code or "—",
        "number": f"{r.number:08d}",
        "series": f"{r.template}{r.series}",
        "date": r.issued_at.astimezone(LOCAL_TZ).strftime("%d/%m/%Y"),
        "total": vnd(r.total_vnd),
        "url": public_lookup_url(public_url, r.lookup_code),
        "code": r.lookup_code or "",
    }


def _lang(session: Session, account_id: str | None) -> str:
    if account_id is None:
        return "vi"
    lang = session.scalar(
        select(User.lang).where(User.account_id == str(account_id), User.active.is_(True))
    )
    return lang or "vi"


def invoice_attachments(
    session: Session, notice: Notice, authority_url: str, public_url: str
) -> tuple[Attachment, ...]:
    """The invoice's XML (the authority's coded copy when there is one) and a PDF of it."""
    from einvoice.queries import invoice_xml
    from einvoice.render import FontMissing, public_lookup_url, render_pdf

    invoice_id = int(notice.params["invoice_id"])
    name, xml = invoice_xml(session, invoice_id)
    files = [Attachment(name, "application/xml", xml)]
    row = session.execute(
        select(invoices.c.lookup_code, invoices.c.status).where(invoices.c.id == invoice_id)
    ).one()
    try:
        pdf = render_pdf(
            xml,
            authority_url,
            status=row.status,
            public_lookup_url=public_lookup_url(public_url, row.lookup_code),
            lookup_code=row.lookup_code or "",
        )
    except FontMissing as exc:  # the XML is the invoice; the PDF is only its readable copy
        log.warning("invoice %s emailed without its PDF: %s", invoice_id, exc)
    else:
        files.append(Attachment(name.removesuffix(".xml") + ".pdf", "application/pdf", pdf))
    return tuple(files)
