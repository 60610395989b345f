"""The menu of each kind of user, in one place: base.html draws whatever this returns.

Why here and not in the layout: the operator console and the driver portal grow pages at the
same time; each adds its item to its tuple, and the layout (collapsing menu on a phone, a row on
a desktop) stays the same for all of them. ``label`` is a key of ``gateway.web.i18n.LABELS``;
``key`` is what a page passes as ``nav`` to be marked current.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.auth.principal import Principal


@dataclass(frozen=True)
class NavItem:
    key: str
    href: str
    label: str
    count: int = 0  # a small badge (unread notices, items waiting), 0 for none


DRIVER: tuple[NavItem, ...] = (
    NavItem("portal", "/portal", "my_account"),
    NavItem("statement", "/portal/statement", "statement"),
    NavItem("trips", "/portal/trips", "trips"),
    NavItem("invoices", "/portal/invoices", "invoices"),
    NavItem("vehicles", "/portal/vehicles", "vehicles"),
    NavItem("notices", "/portal/notices", "notices"),
    NavItem("settings", "/portal/settings", "settings"),
)

OPERATOR: tuple[NavItem, ...] = (
    NavItem("dashboard", "/dashboard", "dashboard"),
    NavItem("passages", "/dashboard/passages", "live_feed"),
    NavItem("review", "/dashboard/review", "review_queue"),
    NavItem("invoices", "/dashboard/invoices", "invoices"),
    NavItem("tariffs", "/dashboard/tariffs", "tariffs"),
)

ADMIN: tuple[NavItem, ...] = OPERATOR


def nav_items(user: Principal | None, counts: dict[str, int] | None = None) -> list[NavItem]:
    """The menu for ``user`` (none when signed out), with badge counts by item key."""
    if user is None:
        return []
    items = ADMIN if user.is_admin else OPERATOR if user.is_operator else DRIVER
    counts = counts or {}
    return [NavItem(i.key, i.href, i.label, counts.get(i.key, 0)) for i in items]
