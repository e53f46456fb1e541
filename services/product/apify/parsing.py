"""Pure helpers that read the numbers and texts of Amazon pages in any marketplace's format."""

from __future__ import annotations

import html
import re
from decimal import Decimal, InvalidOperation

from services.product.apify.item import BsrEntry

_CURRENCY_SYMBOLS = (
    ("CDN$", "CAD"),
    ("C$", "CAD"),
    ("CA$", "CAD"),
    ("US$", "USD"),
    ("$", "USD"),
    ("£", "GBP"),
    ("€", "EUR"),
    ("EUR", "EUR"),
    ("GBP", "GBP"),
    ("USD", "USD"),
    ("CAD", "CAD"),
    ("JPY", "JPY"),
    ("￥", "JPY"),
    ("¥", "JPY"),
)
_NUMBER = re.compile(r"\d[\d.,\s\u00a0\u202f']*")


def clean_text(value: object) -> str | None:
    """Unescaped HTML entities, collapsed whitespace; None for empty."""
    if value is None:
        return None
    text = html.unescape(str(value))
    text = re.sub(r"[\s\u200e\u200f\u00a0]+", " ", text).strip()
    return text or None


def _to_decimal(digits: str) -> Decimal | None:
    """One number in either convention: 1,299.00 / 1.299,00 / 1 299,00 / 1299 / 12,5."""
    s = re.sub(r"[\s\u00a0\u202f']", "", digits).strip(".,")
    if not s:
        return None
    last_dot, last_comma = s.rfind("."), s.rfind(",")
    if last_dot >= 0 and last_comma >= 0:
        decimal_sep = "." if last_dot > last_comma else ","
    elif last_comma >= 0:
        # "12,99" is a decimal comma; "1,299" is a thousands separator.
        decimal_sep = "," if len(s) - last_comma - 1 != 3 else ""
    elif last_dot >= 0:
        decimal_sep = (
            "." if len(s) - last_dot - 1 != 3 or (s.count(".") == 1 and s.startswith("0")) else ""
        )
        if s.count(".") > 1:
            decimal_sep = ""
    else:
        decimal_sep = ""
    if decimal_sep:
        whole, _, frac = s.rpartition(decimal_sep)
        whole = re.sub(r"[.,]", "", whole)
        s = f"{whole}.{frac}"
    else:
        s = re.sub(r"[.,]", "", s)
    try:
        return Decimal(s)
    except InvalidOperation:
        return None


def detect_currency(text: str) -> str | None:
    upper = text.upper()
    for symbol, code in _CURRENCY_SYMBOLS:
        if symbol.upper() in upper:
            return code
    return None


def parse_money(value: object) -> tuple[Decimal | None, str | None]:
    """(amount, ISO currency if shown). Ranges give their lower bound; 0 or junk give None."""
    if value is None or isinstance(value, bool):
        return None, None
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value))
        return (number if number > 0 else None), None
    text = clean_text(value)
    if not text:
        return None, None
    currency = detect_currency(text)
    first = _NUMBER.search(text)
    if first is None:
        return None, currency
    amount = _to_decimal(first.group(0))
    # Japanese yen has no minor unit: "￥1,299" is 1299, never 1.299.
    if currency == "JPY" and amount is not None:
        amount = Decimal(re.sub(r"\D", "", first.group(0)) or "0")
    if amount is None or amount <= 0:
        return None, currency
    return amount.quantize(Decimal("0.01")), currency


def parse_rating(value: object) -> Decimal | None:
    """'4.4 out of 5 stars', '4,5 von 5 Sternen', '5つ星のうち4.3', 4.4 → Decimal in [0, 5]."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        rating = Decimal(str(value))
    else:
        text = clean_text(value) or ""
        numbers = [n.replace(",", ".") for n in re.findall(r"\d+(?:[.,]\d+)?", text)]
        if not numbers:
            return None
        # "5つ星のうち4.3" puts the scale first; elsewhere the rating comes first.
        pick = numbers[-1] if "うち" in text and len(numbers) > 1 else numbers[0]
        rating = Decimal(pick)
    if not Decimal(0) <= rating <= Decimal(5):
        return None
    return rating.quantize(Decimal("0.01"))


def parse_count(value: object) -> int | None:
    """'1,234 ratings', '1.234 Sternebewertungen', '1 234', 6687 → int."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float | Decimal):
        return int(value) if value >= 0 else None
    match = re.search(r"\d[\d.,\s\u00a0\u202f]*", clean_text(value) or "")
    if match is None:
        return None
    digits = re.sub(r"\D", "", match.group(0))
    return int(digits) if digits else None


_BSR_ENTRY = re.compile(
    r"(?:#|Nr\.\s*|n\.\s*|nº\s*|n°\s*|No\.\s*)?\s*(\d[\d.,\s\u00a0]*)\s+"
    r"(?:in|en|dans|in der|en la|in den|i)\s+([^#(\n]+?)\s*"
    r"(?=\(|#|Nr\.|n\.\s*\d|$|\n|\d[\d.,]*\s+(?:in|en)\s)",
    re.IGNORECASE,
)


def parse_bsr(value: object) -> tuple[BsrEntry, ...]:
    """Every (rank, category) in a "Best Sellers Rank" text, main category first."""
    text = clean_text(value)
    if not text:
        return ()
    text = re.sub(r"\((?:See|Voir|Siehe|Vedi|Ver)[^)]*\)", " ", text, flags=re.IGNORECASE)
    entries = []
    for rank_text, category in _BSR_ENTRY.findall(text):
        rank = parse_count(rank_text)
        name = category.strip(" :;,.-")
        if rank and name:
            entries.append(BsrEntry(rank=rank, category=name))
    return tuple(entries)


_OUT_OF_STOCK = (
    "currently unavailable",
    "out of stock",
    "temporarily out of stock",
    "unavailable",
    "derzeit nicht verfügbar",
    "nicht auf lager",
    "actuellement indisponible",
    "rupture de stock",
    "non disponibile",
    "no disponible",
    "在庫切れ",
    "現在在庫切れ",
)
_IN_STOCK = (
    "in stock",
    "left in stock",
    "auf lager",
    "en stock",
    "disponibile",
    "disponible",
    "在庫あり",
    "usually ships",
    "available",
)


def parse_in_stock(value: object) -> bool | None:
    """Availability text → True / False, None when it says neither."""
    if isinstance(value, bool):
        return value
    text = (clean_text(value) or "").lower()
    if not text:
        return None
    if any(marker in text for marker in _OUT_OF_STOCK):
        return False
    if any(marker in text for marker in _IN_STOCK):
        return True
    return None
