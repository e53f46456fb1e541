"""How numbers read to a seller: money in the product's currency, counts, percentages, ages,
dates. One set for every rendering (the pages' Jinja filters and the text digest)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

# Symbols of the Amazon marketplaces' currencies; anything else shows its ISO code.
CURRENCY_SYMBOLS = {
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "CAD": "CA$",
    "AUD": "A$",
    "MXN": "MX$",
    "BRL": "R$",
    "INR": "₹",
    "SEK": "kr ",
    "PLN": "zł ",
    "TRY": "₺",
    "AED": "AED ",
    "SAR": "SAR ",
    "SGD": "S$",
}
ZERO_DECIMAL = {"JPY"}


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def money(value: Any, currency: str | None = None) -> str:
    amount = _decimal(value)
    if amount is None:
        return "—"
    code = (currency or "").upper()
    places = 0 if code in ZERO_DECIMAL else 2
    text = f"{abs(amount):,.{places}f}"
    symbol = CURRENCY_SYMBOLS.get(code, f"{code} " if code else "")
    return f"{'-' if amount < 0 else ''}{symbol}{text}"


def number(value: Any, places: int = 0) -> str:
    amount = _decimal(value)
    return "—" if amount is None else f"{amount:,.{places}f}"


def pct(value: Any, signed: bool = True) -> str:
    amount = _decimal(value)
    if amount is None:
        return "—"
    return f"{amount:+.1f}%" if signed else f"{amount:.1f}%"


def ago(value: datetime | str | None, now: datetime | None = None) -> str:
    """ "3 h ago" / "in 2 h": how fresh a number is, at a glance."""
    if value is None:
        return "never"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    future, seconds = seconds < 0, abs(seconds)
    if seconds < 60:
        return "just now" if not future else "in a moment"
    for unit, size in (("d", 86_400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            amount = f"{seconds // size} {unit}"
            return f"in {amount}" if future else f"{amount} ago"
    return "just now"


def when(value: datetime | str | None, with_time: bool = True) -> str:
    if value is None:
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    moment = moment.astimezone(UTC)
    return moment.strftime("%d %b %Y %H:%M UTC" if with_time else "%d %b %Y")


FILTERS = {"money": money, "number": number, "pct": pct, "ago": ago, "when": when}
