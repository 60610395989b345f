"""Writing notices into the notification outbox (``gw_notices`` + one delivery per channel).

Idempotent by key: a notice for an event is written once, however often its source is read;
the caller's transaction commits it together with whatever caused it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing.adapters import orm as b
from gateway.notices.port import Channel
from gateway.orm import Notice, NoticeDelivery, User


@dataclass(frozen=True)
class Audience:
    """Who hears about an account: whether a driver signs in to it (then its notices are kept
    for the portal's inbox), its channels' addresses, and the language to write in."""

    account_id: int
    lang: str
    to: tuple[tuple[Channel, str], ...]
    anyone: bool


def audience(session: Session, account_id: int, channels: Iterable[Channel]) -> Audience:
    """The account's drivers (those who sign in to it) and its contact addresses in billing:
    SMS to the account's phone and email to its address when a driver wants them, push to each
    driver's browser; only channels that have a sender. No driver, no one to tell."""
    users = session.scalars(
        select(User).where(User.account_id == str(account_id), User.active.is_(True))
    ).all()
    if not users:
        return Audience(account_id, "vi", (), False)
    account = session.get(b.TransportAccount, account_id)
    usable = set(channels)
    to: list[tuple[Channel, str]] = []
    phone = account.phone if account is not None else None
    email = account.email if account is not None else None
    if phone and "sms" in usable and any(u.notify_sms for u in users):
        to.append(("sms", phone))
    if email and "email" in usable and any(u.notify_email for u in users):
        to.append(("email", email))
    if "push" in usable:
        to.extend(("push", f"user:{u.id}") for u in users)
    return Audience(account_id, users[0].lang or "vi", tuple(to), True)


def enqueue(
    session: Session,
    *,
    key: str,
    kind: str,
    code: str,
    params: dict[str, Any],
    lang: str,
    to: Sequence[tuple[Channel, str]],
    account_id: int | None = None,
) -> Notice:
    """The notice for ``key``: written now with its deliveries, or the one written before."""
    existing = session.scalar(select(Notice).where(Notice.key == key))
    if existing is not None:
        return existing
    try:
        with session.begin_nested():
            notice = Notice(
                key=key,
                kind=kind,
                code=code,
                params=params,
                lang=lang,
                account_id=None if account_id is None else str(account_id),
            )
            session.add(notice)
            session.flush()
            for channel, recipient in dict.fromkeys(to):
                session.add(
                    NoticeDelivery(notice_id=notice.id, channel=channel, recipient=recipient)
                )
            session.flush()
    except IntegrityError:
        # Another worker wrote the same event's notice first: theirs stands.
        found = session.scalar(select(Notice).where(Notice.key == key))
        if found is None:
            raise
        return found
    return notice
