"""Sign-ins for ``parking demo``: one operator for every demo lot, one driver, one admin."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.auth.users import create_user, grant
from gateway.orm import User

# The demo driver's phone: it signs in too, and SMS notices (the stub's inbox) go to it.
DEMO_DRIVER_PHONE = "+84912000001"

DEMO_LOGINS = (
    # username, password, role
    ("demo-operator", "operator-demo", "operator"),
    ("demo-driver", "driver-demo", "driver"),
    ("demo-admin", "admin-demo", "admin"),
)


def seed_demo_users(session: Session, data: Any) -> list[tuple[str, str, str]]:
    """Create the demo logins once (a second call only returns them).

    ``data`` is billing's ``DemoData``: the operator company gets every lot through a company
    grant; the driver owns account "an" (Nguyễn Văn An, a car and a motorbike).
    """
    existing = set(session.scalars(select(User.username)))
    for username, password, role in DEMO_LOGINS:
        if username in existing:
            continue
        names = {
            "operator": "Nhân viên vận hành",
            "driver": "Nguyễn Văn An",
            "admin": "Quản trị hệ thống",
        }
        create_user(
            session,
            username,
            password,
            role,
            display_name=names[role],
            account_id=data.accounts["an"] if role == "driver" else None,
            phone=DEMO_DRIVER_PHONE if role == "driver" else None,
        )
        if role == "operator":
            grant(session, username, company=data.operator_id)
        if role == "driver":
            from billing.adapters import orm as b

            account = session.get(b.TransportAccount, data.accounts["an"])
            if account is not None and not account.phone:
                account.phone = DEMO_DRIVER_PHONE
    session.flush()
    return [tuple(login) for login in DEMO_LOGINS]  # type: ignore[misc]
