"""Users, roles and grants in the gateway's tables; every change leaves an audit entry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.auth.audit import record
from gateway.auth.passwords import hash_password, needs_rehash, verify_password
from gateway.auth.phones import normalize_phone
from gateway.auth.principal import Principal, Role
from gateway.orm import ROLES, OperatorGrant, User


class UserError(ValueError):
    """A request about users that cannot be honoured (duplicate name, unknown role...)."""


class UserNotFound(UserError):
    pass


@dataclass(frozen=True)
class UserSummary:
    id: int
    username: str
    display_name: str
    role: str
    account_id: str | None
    active: bool
    lots: tuple[str, ...]
    companies: tuple[str, ...]


def create_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    *,
    display_name: str = "",
    account_id: str | int | None = None,
    actor: Principal | None = None,
    phone: str | None = None,
    lang: str = "vi",
    password_hash: str | None = None,
) -> User:
    """A new user. ``password_hash`` instead of ``password`` when it was hashed earlier (a
    sign-up hashes it before the phone is verified, and keeps only the hash meanwhile)."""
    username = username.strip().lower()
    if not username:
        raise UserError("username must not be empty")
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    if role == "driver" and account_id is None:
        raise UserError("a driver needs the transport account they own (account_id)")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise UserError(f"user {username!r} already exists")
    if password_hash is None:
        try:
            password_hash = hash_password(password)
        except ValueError as exc:
            raise UserError(str(exc)) from exc
    if phone is not None and session.scalar(select(User.id).where(User.phone == phone)):
        raise UserError("this phone number already has a sign-in")
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=password_hash,
        role=role,
        account_id=None if account_id is None else str(account_id),
        active=True,
        phone=phone,
        lang=lang,
    )
    session.add(user)
    session.flush()
    record(session, actor, "user.create", "user", user.id, {"username": username, "role": role})
    return user


def grant(
    session: Session,
    username: str,
    *,
    lot_id: str | None = None,
    company: str | None = None,
    actor: Principal | None = None,
) -> OperatorGrant:
    if lot_id is None and company is None:
        raise UserError("grant a lot or an operator company")
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise UserNotFound(f"no user {username!r}")
    if user.role != "operator":
        raise UserError(f"{username!r} is a {user.role}; only operators get lot grants")
    existing = session.scalar(
        select(OperatorGrant).where(
            OperatorGrant.user_id == user.id,
            OperatorGrant.lot_id.is_(None) if lot_id is None else OperatorGrant.lot_id == lot_id,
            OperatorGrant.company.is_(None)
            if company is None
            else OperatorGrant.company == company,
        )
    )
    if existing is not None:
        return existing
    row = OperatorGrant(user_id=user.id, lot_id=lot_id, company=company)
    session.add(row)
    session.flush()
    record(session, actor, "user.grant", "user", user.id, {"lot_id": lot_id, "company": company})
    return row


def find_user(session: Session, username_or_phone: str) -> User | None:
    """By user name, or by phone number however it is written ("0912 345 678")."""
    user = session.scalar(select(User).where(User.username == username_or_phone.strip().lower()))
    if user is None:
        phone = normalize_phone(username_or_phone)
        if phone is not None:
            user = session.scalar(select(User).where(User.phone == phone))
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    user = find_user(session, username)
    if user is None or not user.active:
        # Hash anyway so a missing user takes as long as a wrong password.
        verify_password(_DUMMY_HASH(), password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


_dummy: list[str] = []


def _DUMMY_HASH() -> str:
    if not _dummy:
        _dummy.append(hash_password("not-a-real-password"))
    return _dummy[0]


def principal_for(session: Session, user: User) -> Principal:
    grants = session.scalars(select(OperatorGrant).where(OperatorGrant.user_id == user.id)).all()
    role: Role = user.role  # type: ignore[assignment]
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=role,
        account_id=user.account_id,
        lot_ids=frozenset(g.lot_id for g in grants if g.lot_id is not None),
        companies=frozenset(g.company for g in grants if g.company is not None),
    )


def load_user(session: Session, user_id: int) -> User | None:
    user = session.get(User, user_id)
    if user is None or not user.active:
        return None
    return user


def list_users(session: Session) -> Sequence[UserSummary]:
    users = session.scalars(select(User).order_by(User.id)).all()
    grants = session.scalars(select(OperatorGrant).order_by(OperatorGrant.id)).all()
    out = []
    for u in users:
        mine = [g for g in grants if g.user_id == u.id]
        out.append(
            UserSummary(
                id=u.id,
                username=u.username,
                display_name=u.display_name,
                role=u.role,
                account_id=u.account_id,
                active=u.active,
                lots=tuple(g.lot_id for g in mine if g.lot_id),
                companies=tuple(g.company for g in mine if g.company),
            )
        )
    return out
