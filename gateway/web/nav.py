"""The dashboard's navigation: one list, filtered by role. Modules append their entry here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    href: str
    # Highlighted while the path starts with this prefix.
    prefix: str
    role: str | None = None  # None: every signed-in user; "admin": admins only


NAV: list[NavItem] = [
    NavItem("Overview", "/", "/overview"),
    NavItem("Products", "/products", "/products"),
    NavItem("Alerts", "/alerts", "/alerts"),
    NavItem("Competitors", "/competitors", "/competitors"),
    NavItem("Optimization", "/optimization", "/optimization"),
    NavItem("Settings", "/settings", "/settings"),
    NavItem("Admin", "/admin", "/admin", role="admin"),
]


def nav_for(role: str | None, path: str) -> list[tuple[NavItem, bool]]:
    """(item, is current) for the items this role may see."""
    items = [item for item in NAV if item.role is None or item.role == role]
    return [
        (item, path == item.href or (item.href != "/" and path.startswith(item.prefix)))
        for item in items
    ]
