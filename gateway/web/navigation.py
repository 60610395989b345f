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
    group: str = ""  # items of one group are drawn together under the group's label


@dataclass(frozen=True)
class NavGroup:
    """Items drawn under one label: a sub-list in the phone's menu, a drop-down on a desktop."""

    label: str
    items: tuple[NavItem, ...]
    testid: str = ""

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(i.key for i in self.items)


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
    NavItem("sessions", "/dashboard/sessions", "sessions"),
    NavItem("review", "/dashboard/review", "review_queue"),
    NavItem("invoices", "/dashboard/invoices", "invoices"),
    NavItem("tariffs", "/dashboard/tariffs", "tariffs"),
    NavItem("lists", "/dashboard/lists", "lot_lists"),
    NavItem("alerts", "/dashboard/alerts", "alerts"),
)

ADMIN: tuple[NavItem, ...] = (
    *OPERATOR,
    NavItem("admin-users", "/admin/users", "users", group="admin"),
    NavItem("admin-accounts", "/admin/accounts", "accounts", group="admin"),
    NavItem("admin-refunds", "/admin/refunds", "refunds", group="admin"),
    NavItem("admin-passes", "/admin/passes", "passes_admin", group="admin"),
    NavItem("admin-reconciliation", "/admin/reconciliation", "reconciliation", group="admin"),
    NavItem("admin-audit", "/admin/audit", "audit_log", group="admin"),
)

# A group's label (an i18n key) and the test id of its drop-down.
GROUPS = {"admin": ("admin", "admin-menu")}


def nav_items(
    user: Principal | None, counts: dict[str, int] | None = None
) -> list[NavItem | NavGroup]:
    """The menu for ``user`` (none when signed out), with badge counts by item key; grouped
    items come as one ``NavGroup`` where the first of them stood."""
    if user is None:
        return []
    items = ADMIN if user.is_admin else OPERATOR if user.is_operator else DRIVER
    counts = counts or {}
    out: list[NavItem | NavGroup] = []
    groups: dict[str, list[NavItem]] = {}
    for i in items:
        item = NavItem(i.key, i.href, i.label, counts.get(i.key, 0), i.group)
        if not i.group:
            out.append(item)
            continue
        if i.group not in groups:
            groups[i.group] = []
            out.append(NavGroup(i.group, ()))  # placeholder, filled below
        groups[i.group].append(item)
    return [
        NavGroup(GROUPS[g.label][0], tuple(groups[g.label]), GROUPS[g.label][1])
        if isinstance(g, NavGroup)
        else g
        for g in out
    ]
