"""Pure helpers that read Amazon's numbers and texts as every supported storefront writes them.

Numbers: a separator followed by exactly three digits groups thousands ("1,299", "1.299",
"1 299"); otherwise it is the decimal mark ("12,99", "12.5"). When both "." and "," appear, the
last one is the decimal mark. Texts: HTML entities are unescaped, invisible marks dropped and
whitespace collapsed; an empty text is ``None``, never "".
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from services.product.apify.item import BsrEntry

_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2060\ufeff]")
_TAG = re.compile(r"<(?:br|/?p|/?li|/?div|/?h\d)\b[^>]*>|<[a-zA-Z/!][^>]*>", re.IGNORECASE)

# A money amount: thousands groups with one consistent separator and an optional decimal part
# with the other mark, or plain digits with an optional decimal part.
_AMOUNT = re.compile(
    r"\d{1,3}(?P<sep>[,. '\u2019])\d{3}(?!\d)(?:(?P=sep)\d{3}(?!\d))*"
    r"(?:(?!(?P=sep))[.,]\d{1,2}(?!\d))?"
    r"|\d+(?:[.,]\d+)?"
)
_RANGE_SPLIT = re.compile(r"\s+-\s+|\s*[\u2013\u2014~\uff5e]\s*|\s+(?:to|bis|à)\s+")
_CURRENCIES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(?:CDN|CAD|CA|C)\s?\$|\bCAD\b"), "CAD"),
    (re.compile(r"\bUS\s?\$|\bUSD\b"), "USD"),
    (re.compile(r"€|\bEUR\b"), "EUR"),
    (re.compile(r"£|\bGBP\b"), "GBP"),
    (re.compile(r"[¥\uffe5円]|\bJPY\b"), "JPY"),
)
_DOLLARS = frozenset({"USD", "CAD"})
_ZERO, _FIVE = Decimal(0), Decimal(5)

_COUNT = re.compile(r"\d{1,3}(?P<sep>[,. '\u2019])\d{3}(?!\d)(?:(?P=sep)\d{3}(?!\d))*|\d+")
_NON_DIGITS = re.compile(r"\D")
_RATING = re.compile(r"\d+(?:[.,]\d+)?")
_RATING_SCALE_FIRST = re.compile(r"5\s*つ星のうち")  # Japanese writes the scale before the value


class Money(msgspec.Struct, frozen=True, gc=False):  # a Struct for the reason ParsedItem is
    amount: Decimal
    currency: str | None


def clean_text(value: Any, *, strip_tags: bool = False) -> str | None:
    """The text with HTML entities unescaped and whitespace collapsed; None when empty."""
    if not isinstance(value, str):
        return None
    text = value
    # Scraped text is sometimes escaped twice ("&amp;amp;"). An "&" followed by a space starts
    # no entity ("Home & Kitchen"), so a text with only those is left as it is.
    if "&" in text and text.count("&") != text.count("& "):
        for _ in range(3):
            unescaped = html.unescape(text)
            if unescaped == text:
                break
            text = unescaped
            if "&" not in text or text.count("&") == text.count("& "):
                break
    if strip_tags and "<" in text:
        text = _TAG.sub(" ", text)
    if text.isascii() and " " not in text:
        # One word (a URL, an id): printable ASCII holds no whitespace but the space, so such a
        # text is its own result; else split() finds out at once.
        if text and text.isprintable():
            return text
        return " ".join(text.split()) or None
    # Every whitespace character but the plain space, and every invisible mark, is
    # "non-printable" to Python, so a printable text with no double, leading or trailing space
    # is its own result: one C scan instead of splitting it into words and joining them.
    if text.isprintable() and "  " not in text and text[0] != " " and text[-1] != " ":
        return text
    # The invisible marks are all non-ASCII, and str.split() splits on exactly the characters
    # \s matches: the same result as two regex passes at a fraction of the cost.
    if not text.isascii():
        text = _INVISIBLE.sub("", text)
    return " ".join(text.split()) or None


def clean_texts(values: Any, *, dedupe: bool = False) -> tuple[str, ...]:
    """The non-empty cleaned strings of a list, in order; () for anything but a list."""
    if not isinstance(values, list | tuple):
        return ()
    if values and _all_clean(values):
        return tuple(dict.fromkeys(values)) if dedupe else tuple(values)
    found = []
    for value in values:
        text = clean_text(value)
        if text:
            found.append(text)
    return tuple(dict.fromkeys(found)) if dedupe else tuple(found)


def _all_clean(values: list[Any] | tuple[Any, ...]) -> bool:
    """Whether every value is a string ``clean_text`` returns as it is, tested on the list at
    once: bullets, image and video URLs nearly always are, and two joins and a few C scans cost
    less than a ``clean_text`` call per value.

    Such a string is non-empty, printable, has no "&" but before a space (any other might start
    an entity) and no double, leading or trailing space. A tab joins the values: printable
    strings hold none, so a space or tab next to a tab is a value's leading or trailing space,
    two tabs an empty one.
    """
    try:
        joined = "\t".join(values)
    except TypeError:  # not all strings
        return False
    return (
        joined.count("\t") == len(values) - 1  # no value holds a tab
        and joined.replace("\t", "").isprintable()
        # Every "&" followed by a space in its own value (the tab ends a value): no entity.
        and joined.count("&") == joined.count("& ")
        and "  " not in joined
        and " \t" not in joined
        and "\t " not in joined
        and "\t\t" not in joined
        and joined != ""
        and joined[0] not in " \t"
        and joined[-1] not in " \t"
    )


def parse_decimal(text: str) -> Decimal | None:
    """The first number of a text in any storefront's convention ("1.299,00" → 1299.00)."""
    match = _AMOUNT.search(text)
    return _amount(match) if match else None


def _amount(match: re.Match[str]) -> Decimal | None:
    raw = match.group(0)
    sep = match.group("sep")
    if sep:
        grouped_end = raw.rfind(sep) + 4
        whole, rest = raw[:grouped_end].replace(sep, ""), raw[grouped_end:]
        raw = whole + ("." + rest[1:] if rest else "")
    else:
        raw = raw.replace(",", ".")
    try:
        return Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern only lets digits through
        return None


def detect_currency(text: str, default: str | None = None) -> str | None:
    """The ISO code a money text shows; a bare "$" is the default when that is a dollar."""
    for pattern, code in _CURRENCIES:
        if pattern.search(text):
            return code
    if "$" in text:
        return default if default in _DOLLARS else "USD"
    return default


def parse_money(value: Any, default_currency: str | None = None) -> Money | None:
    """An amount from a number or a money text; a range gives its lowest bound."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return Money(Decimal(str(value)), default_currency)
    text = clean_text(value)
    if text is None:
        return None
    amounts = [
        amount
        for part in _RANGE_SPLIT.split(text)
        if (match := _AMOUNT.search(part)) and (amount := _amount(match)) is not None
    ]
    if not amounts:
        return None
    return Money(min(amounts), detect_currency(text, default_currency))


def parse_price(value: Any) -> Decimal | None:
    """The amount of a price, or None when there is no usable positive price."""
    money = parse_money(value)
    return money.amount if money is not None and money.amount > 0 else None


def parse_rating(value: Any) -> Decimal | None:
    """A star rating from 0 to 5 out of a number or a text in any storefront's language."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        rating = Decimal(str(value))
    else:
        text = clean_text(value)
        if text is not None and "つ" in text:
            text = _RATING_SCALE_FIRST.sub(" ", text)
        match = _RATING.search(text) if text else None
        if match is None:
            return None
        rating = Decimal(match.group(0).replace(",", "."))
    return rating if _ZERO <= rating <= _FIVE else None


def parse_count(value: Any) -> int | None:
    """A non-negative count out of a number or a text ("1.234 Sternebewertungen" → 1234)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float | Decimal):
        if not math.isfinite(value) or value < 0 or value != int(value):
            return None
        return int(value)
    text = clean_text(value)
    match = _COUNT.search(text) if text else None
    return _digits(match.group(0)) if match else None


def _digits(text: str) -> int:
    """The number its digits make, whatever separates them ("1.234" → 1234)."""
    # str.isdecimal() and \d accept the same (Unicode Nd) digits.
    return int(text) if text.isdecimal() else int(_NON_DIGITS.sub("", text))


# --- Best Sellers Rank ---------------------------------------------------------------------------

# "#12", "Nr. 12", "No. 12", "Nº 12", "n° 12", "n. 12" (Italian), "n.º 12" (Spanish). Only the
# words ignore case (scoped flags): the rest has no letters, and a case-blind match of every
# category character costs time.
_BSR_MARK = r"(?i:#|\b(?:Nr|No|N[º°o]|n)\.?\s*(?:[º°ª]\.?\s*)?|\bn[º°]\s*)"
_BSR_RANK = r"\d{1,3}(?:[,. ]\d{3})+(?!\d)|\d+"
_BSR_JOIN = r"(?i:\s*位\s*|\s+(?:in|en)\s+)"
# Where the next entry starts (after an optional separator), or the text ends.
_BSR_NEXT = rf"\s*(?:[-•|·]\s*)?{_BSR_MARK}?(?:{_BSR_RANK}){_BSR_JOIN}|$"
# The characters that can begin _BSR_NEXT (whitespace, separators, the marks' first letters,
# digits): the category runs over any other one without trying _BSR_NEXT there. The matches are
# those of the plain ``(?P<category>.+?)(?=_BSR_NEXT)`` (a unit test compares both on random
# texts), in a third of the time.
_BSR_NEXT_FIRST = r"\s\d\-•|·#Nn"
_BSR_ENTRY = re.compile(
    rf"{_BSR_MARK}?(?P<rank>{_BSR_RANK}){_BSR_JOIN}"
    # The category runs until the next entry starts, or the text ends.
    rf"(?P<category>.(?:[^{_BSR_NEXT_FIRST}]++|(?!{_BSR_NEXT}).)*+)(?={_BSR_NEXT})"
)
# "(See Top 100 in Electronics)" and its translations repeat the category: not an entry.
_BSR_TOP_LIST = re.compile(r"\([^()]*(?:100|top|売れ筋|ランキング)[^()]*\)", re.IGNORECASE)
_SPACE_RUNS = re.compile(" {2,}")
# The form English storefronts (and the simulator) write: "#1,234 in Home & Kitchen (See Top 100
# in Home & Kitchen) #56 in Knives", each entry a '#', a rank (comma groups, as _BSR_RANK reads
# them), " in " and a category holding no digit, '#' or parenthesis, maybe followed by the one
# "(See Top 100 in ...)" _BSR_TOP_LIST would remove. In a text made only of such entries nothing
# inside a category can start an entry (every entry needs a rank's digits), so _BSR_ENTRY finds
# exactly these once the top lists are gone: the category it ends early (before a " - #12" or
# " #12" that follows) loses only characters the strip below removes. They are read here in one
# pass without its look-aheads at every space; a unit test compares both on random texts of this
# form and just off it.
_BSR_PLAIN_ENTRY = r"#(\d{1,3}(?:,\d{3})+|\d+) in ([^\d#() ](?:[^\d#()]*[^\d#() ])?)"
_BSR_PLAIN_TOP_LIST = r"(?: \(See Top 100 in [^()#]*\))?"
_BSR_PLAIN = re.compile(
    rf"{_BSR_PLAIN_ENTRY}{_BSR_PLAIN_TOP_LIST}(?: {_BSR_PLAIN_ENTRY}{_BSR_PLAIN_TOP_LIST})*"
)
_BSR_PLAIN_ENTRIES = re.compile(_BSR_PLAIN_ENTRY)


def parse_bsr(value: Any) -> tuple[BsrEntry, ...]:
    """Every (rank, category) of a "Best Sellers Rank" text, in the order shown."""
    text = clean_text(value, strip_tags=True)
    if text is None:
        return ()
    # findall gives the two groups, (rank, category), without a match object for each entry.
    if _BSR_PLAIN.fullmatch(text):
        found = [(int(r.replace(",", "")), c) for r, c in _BSR_PLAIN_ENTRIES.findall(text)]
    else:
        text, removed = _BSR_TOP_LIST.subn(" ", text)
        if removed:
            # A clean text's only whitespace is single spaces: only the removals leave runs.
            text = _SPACE_RUNS.sub(" ", text)
        found = [(_digits(r), c) for r, c in _BSR_ENTRY.findall(text)]
    entries: dict[tuple[int, str], BsrEntry] = {}
    for rank, raw_category in found:
        category = raw_category.strip(" \t-•|·:;,.")
        if rank > 0 and category:
            entries.setdefault((rank, category), BsrEntry(rank, category))
    return tuple(entries.values())


def bsr_entries(values: Iterable[tuple[Any, Any]]) -> tuple[BsrEntry, ...]:
    """BSR entries from (rank, category) pairs of structured output; bad pairs are skipped."""
    entries: list[BsrEntry] = []
    for raw_rank, raw_category in values:
        rank = parse_count(raw_rank)
        category = clean_text(raw_category)
        if rank and category:
            entries.append(BsrEntry(rank, category))
    return tuple(entries)


# --- Availability --------------------------------------------------------------------------------

# A pre-order page is neither: it sells, but nothing ships yet.
_NEITHER = ("pre-order", "preorder", "vorbestell", "précommande", "予約")
# Checked before the positives: several contain one ("not in stock", "indisponible").
_OUT_OF_STOCK = (
    "currently unavailable",
    "out of stock",
    "not in stock",
    "unavailable",
    "not available",
    "no longer available",
    "nicht verfügbar",
    "nicht auf lager",
    "nicht vorrätig",
    "indisponible",
    "rupture de stock",
    "non disponibile",
    "esaurito",
    "no disponible",
    "sin stock",
    "agotado",
    "在庫切れ",
    "取り扱いできません",
)
_IN_STOCK = (
    "in stock",
    "auf lager",
    "en stock",
    "disponibilità immediata",
    "disponibile",
    "disponible",
    "在庫あり",
    "残り",
    "usually ships",
    "usually dispatched",
    "versandfertig",
    "expédié sous",
    "available to ship",
    "verfügbar",
    "available",
)


def parse_availability(value: Any) -> bool | None:
    """Whether an availability text says in stock; None when it says neither."""
    if isinstance(value, bool):
        return value
    text = clean_text(value)
    if text is None:
        return None
    lowered = text.casefold()
    if _contains_any(lowered, _NEITHER):
        return None
    if _contains_any(lowered, _OUT_OF_STOCK):
        return False
    if _contains_any(lowered, _IN_STOCK):
        return True
    return None


def _contains_any(text: str, markers: tuple[str, ...]) -> bool:
    # A plain loop: any() over a generator costs twice as much for these short lists.
    for marker in markers:  # noqa: SIM110
        if marker in text:
            return True
    return False
