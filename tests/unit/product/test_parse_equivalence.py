"""The parser's fast paths read every item exactly as the plain code before them did.

``parsed_expected.json`` holds a digest of what the parser before the fast paths (commit
d97b148) made of each item of the corpus below (rewritten once since, unchanged but for the deal
flag the parser reads now): the real fixture items, simulated items of both
actors in every marketplace (``simulated_items.json``), and seeded variants of all of them with
the awkward text scraped pages carry (entities escaped once or twice, tags, stray and exotic
whitespace, invisible marks, non-ASCII, wrong types). Regenerate it only for an intended change
in what is read:

    uv run python -m tests.unit.product.test_parse_equivalence --write
"""

from __future__ import annotations

import hashlib
import html
import json
import random
import re
import sys
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import msgspec
import pytest

from services.product.apify.adapters import adapter_for
from services.product.apify.adapters.axesso import AxessoItem
from services.product.apify.item import BsrEntry, ParsedItem
from services.product.apify.parsing import _BSR_PLAIN, clean_text, clean_texts, parse_bsr

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "apify"
EXPECTED = FIXTURES / "parsed_expected.json"
ACTORS = {
    "axesso": "axesso_data/amazon-product-details-scraper",
    "junglee": "junglee/amazon-crawler",
}
VARIANTS_PER_ITEM = 12

# What a scraped text can carry; each is applied to a random text leaf of an item.
_TEXT_CHANGES = (
    lambda s: s.replace("&", "&amp;"),
    lambda s: s.replace("&", "&amp;amp;"),
    lambda s: s.replace(" ", " &amp; ", 1),
    lambda s: s.replace("'", "&#39;").replace(" ", "&nbsp;", 1),
    lambda s: f"&lt;b&gt;{s}&lt;/b&gt;",
    lambda s: f"<b>{s}</b>",
    lambda s: s.replace(" ", "<br/>", 2),
    lambda s: f"<p>{s}</p><div class='x'>more</div>",
    lambda s: s.replace(" ", "  ", 2),
    lambda s: f"  {s}\n",
    lambda s: s.replace(" ", "\n\t", 1),
    lambda s: s.replace(" ", "\u00a0", 2),
    lambda s: s.replace(" ", " \u200b", 1),
    lambda s: f"\ufeff{s}\u00ad",
    lambda s: s.replace(" ", "\u3000", 1),
    lambda s: s.replace(" ", "\x1f", 1),
    lambda s: s + " é位€",
    lambda s: s.upper(),
    lambda s: s.lower(),
    lambda s: s[: len(s) // 2],
    lambda s: "",
    lambda s: "   ",
    lambda s: s.replace(",", "").replace(".", ","),
    lambda s: s.replace("#", "Nr. ", 1),
    lambda s: s.replace(" in ", " en ", 1),
    lambda s: s.replace("(", "").replace(")", ""),
    lambda s: s.replace(" (", " - (", 1),
)
_OTHER_VALUES: tuple[Any, ...] = (None, 0, -3, 12.5, True, [], {}, ["x"], {"name": "x"}, "0")


def _text_leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _text_leaves(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _text_leaves(v, (*path, i))]
    return [path] if isinstance(value, str | int | float) and path else []


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {k: _replace(v, rest, new) if k == head else v for k, v in value.items()}
    return [_replace(v, rest, new) if i == head else v for i, v in enumerate(value)]


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        value = value[key]
    return value


def _variant(item: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    leaves = _text_leaves(item)
    for _ in range(rng.randint(1, 6)):
        path = rng.choice(leaves)
        old = _get(item, path)
        if isinstance(old, str) and rng.random() < 0.85:
            new: Any = rng.choice(_TEXT_CHANGES)(old)
        elif isinstance(old, int | float) and not isinstance(old, bool) and rng.random() < 0.5:
            new = rng.choice((str(old), f"{old:,}", -old, 0, f"{old} stars"))
        else:
            new = rng.choice(_OTHER_VALUES)
        item = _replace(item, path, new)
    return item


def corpus() -> list[tuple[str, dict[str, Any]]]:
    """(actor key, item) for every item of the corpus, variants included, in a fixed order."""
    base: list[tuple[str, dict[str, Any]]] = [
        ("axesso", item)
        for item in json.loads((FIXTURES / "axesso_product_details_B0D2XRXNGY.json").read_text())
    ]
    base += [
        ("junglee", item)
        for item in json.loads((FIXTURES / "junglee_amazon_crawler_items.json").read_text())
    ]
    base += [
        (entry["actor"], entry["item"])
        for entry in json.loads((FIXTURES / "simulated_items.json").read_text())
    ]
    rng = random.Random(13)
    items = list(base)
    for actor, item in base:
        items += [(actor, _variant(item, rng)) for _ in range(VARIANTS_PER_ITEM)]
    return items


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, msgspec.Struct):
        # What dataclasses.asdict gave while these were dataclasses: every field, in order.
        return {f: _plain(getattr(value, f)) for f in value.__struct_fields__}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def as_plain(item: ParsedItem | None) -> Any:
    """A parsed item as JSON data; every Decimal keeps its exact digits."""
    return None if item is None else _plain(item)


def parse_all() -> list[Any]:
    return [as_plain(adapter_for(ACTORS[actor]).parse(item)) for actor, item in corpus()]


def digest(result: Any) -> str:
    canonical = json.dumps(result, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def test_the_corpus_is_varied() -> None:
    """The variants really do change what is read (or the comparison below proves nothing)."""
    results = parse_all()
    base_count = len(results) // (VARIANTS_PER_ITEM + 1)
    changed = sum(1 for r in results[base_count:] if r not in results[:base_count])
    assert len(results) > 400
    assert changed > len(results) // 2


def test_every_item_parses_as_before() -> None:
    expected = json.loads(EXPECTED.read_text())
    items, results = corpus(), parse_all()
    assert len(results) == len(expected)
    differing = [
        i for i, (r, e) in enumerate(zip(results, expected, strict=True)) if digest(r) != e
    ]
    assert not differing, (
        f"{len(differing)} items parse differently, first #{differing[0]}: "
        f"{items[differing[0]]!r} now gives {results[differing[0]]!r}"
    )


@pytest.mark.parametrize("actor", sorted(ACTORS))
def test_a_decoded_page_parses_as_its_items_read_as_json_objects(actor: str) -> None:
    """``decode_page`` (axesso: straight into the fields read) gives the parse of each item that
    the item decoded as a plain JSON object gives, for every corpus item of the actor."""
    adapter = adapter_for(ACTORS[actor])
    items = [item for key, item in corpus() if key == actor]
    page = adapter.decode_page(json.dumps(items).encode())
    assert len(page) == len(items)
    if actor == "axesso":  # the typed path was taken, not the fallback
        assert all(type(item) is AxessoItem for item in page)
    decoded = [as_plain(adapter.parse(item)) for item in page]
    assert decoded == [as_plain(adapter.parse(item)) for item in items]


def test_a_page_with_other_json_than_objects_is_read_as_before() -> None:
    """A page the typed decoder cannot take (an element that is no object, a single item) is
    decoded as any actor's page: nothing is dropped."""
    adapter = adapter_for(ACTORS["axesso"])
    item = json.loads((FIXTURES / "axesso_product_details_B0D2XRXNGY.json").read_text())[0]
    page = adapter.decode_page(json.dumps([item, "stray", None, [1]]).encode())
    assert page == [item, "stray", None, [1]]
    assert as_plain(adapter.parse(page[0])) == as_plain(adapter.parse(item))
    with pytest.raises(AttributeError):  # as before: parse_page counts it as unattributed
        adapter.parse(page[1])
    (single,) = adapter.decode_page(json.dumps(item).encode())
    assert as_plain(adapter.parse(single)) == as_plain(adapter.parse(item))
    with pytest.raises(ValueError, match="not a list"):
        adapter.decode_page(b"12")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        pytest.exit("usage: python -m tests.unit.product.test_parse_equivalence --write")
    EXPECTED.write_text(json.dumps([digest(r) for r in parse_all()], indent=0) + "\n")


# --- The text helpers against the plain code they replaced, on random texts ------------------

_TAG = re.compile(r"<(?:br|/?p|/?li|/?div|/?h\d)\b[^>]*>|<[a-zA-Z/!][^>]*>", re.IGNORECASE)
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2060\ufeff]")
_SPACES = re.compile(r"\s+")
_BSR_MARK = r"(?:#|\b(?:Nr|No|N[º°o]|n)\.?\s*(?:[º°ª]\.?\s*)?|\bn[º°]\s*)"
_BSR_RANK = r"\d{1,3}(?:[,. ]\d{3})+(?!\d)|\d+"
_BSR_JOIN = r"(?:\s*位\s*|\s+(?:in|en)\s+)"
_BSR_ENTRY = re.compile(
    rf"{_BSR_MARK}?(?P<rank>{_BSR_RANK}){_BSR_JOIN}(?P<category>.+?)"
    rf"(?=\s*(?:[-•|·]\s*)?{_BSR_MARK}?(?:{_BSR_RANK}){_BSR_JOIN}|$)",
    re.IGNORECASE,
)
_BSR_TOP_LIST = re.compile(r"\([^()]*(?:100|top|売れ筋|ランキング)[^()]*\)", re.IGNORECASE)


def plain_clean_text(value: Any, *, strip_tags: bool = False) -> str | None:
    if not isinstance(value, str):
        return None
    text = value
    for _ in range(3):
        if "&" not in text:
            break
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    if strip_tags and "<" in text:
        text = _TAG.sub(" ", text)
    text = _INVISIBLE.sub("", text)
    return _SPACES.sub(" ", text).strip() or None


def plain_parse_bsr(value: Any) -> tuple[BsrEntry, ...]:
    text = plain_clean_text(value, strip_tags=True)
    if text is None:
        return ()
    text = _SPACES.sub(" ", _BSR_TOP_LIST.sub(" ", text))
    entries: dict[tuple[int, str], BsrEntry] = {}
    for match in _BSR_ENTRY.finditer(text):
        rank = int(re.sub(r"\D", "", match.group("rank")))
        category = match.group("category").strip(" \t-•|·:;,.")
        if rank > 0 and category:
            entries.setdefault((rank, category), BsrEntry(rank, category))
    return tuple(entries.values())


# Pieces of Best Sellers Rank texts in every storefront's form, entities, tags, every kind of
# whitespace and the letters that fold to others when case is ignored.
_PIECES = (
    *("#", "Nr.", "Nr", "No.", "No", "Nº", "n°", "n.º", "n. ", "nº", "N°", "ª", "º", "°"),
    *(".", ",", ":", ";", "_", "•", "|", "·", "-", " - ", "(", ")", "100", "Top", "売れ筋"),
    *("1", "12", "1,234", "1.234", "1 234", "12,34", "123,456,789", "0", "٣", "²"),
    *("位", " in ", " en ", "in", "en", " In ", "IN", "iN", " İn ", " \u0131n ", "\u017f"),
    *("K", "k", "\u212a"),
    *("Home & Kitchen", "Knives", "n", "N", "nr", "NR", "nO", "(See Top 100 in X)", "x", "é"),
    *(" ", "  ", "\t", "\n", "\r", "\x0b", "\x1c", "\u00a0", "\u2009", "\u3000", "\u2028"),
    *("\u00ad", "\u200b", "\u200e", "\u2060", "\ufeff", "&", "& ", "&amp;", "&amp;amp;"),
    *("&#36;", "&nbsp;", "&lt;br&gt;", "&bogus;", "<br>", "<br/>", "</p>", "<div a='1'>", "<"),
    *("<3", "a<b", ">", "\x00", "\x7f", "\x85"),
)


_MARKS = ("", "", "#", "# ", "Nr. ", "No. ", "Nº ", "n° ", "n.º ", "n. ", "nº", "NR ", "\u017f")
_RANKS = ("1", "12", "1,234", "1.234", "1 234", "12,34", "123,456,789", "0", "٣٤", "\uff11\uff12")
_JOINS = (" in ", " en ", "位", " 位 ", " In ", " \u0131n ", "in", "  in\n")
_WORDS = ("Home", "&", "Kitchen", "Knives", "Top", "n", "N", "No", "in", "5", "(See Top 100 in X)")


def _random_texts(seed: int, count: int) -> list[str]:
    """Texts made of ranking entries and loose pieces, in random order."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(0, 5)):
            if rng.random() < 0.6:
                words = " ".join(rng.choices(_WORDS, k=rng.randint(1, 3)))
                parts.append(rng.choice(_MARKS) + rng.choice(_RANKS) + rng.choice(_JOINS) + words)
            parts.append("".join(rng.choices(_PIECES, k=rng.randint(0, 3))))
        texts.append("".join(parts))
    return texts


@pytest.mark.parametrize("seed", range(2))
def test_clean_text_matches_the_plain_code(seed: int) -> None:
    for text in _random_texts(seed, 10_000):
        assert clean_text(text) == plain_clean_text(text), repr(text)
        assert clean_text(text, strip_tags=True) == plain_clean_text(text, strip_tags=True)


# Values of the lists clean_texts reads: clean ones (URLs, bullets) and each way one can differ.
_LIST_VALUES: tuple[Any, ...] = (
    *("https://m.media-amazon.com/images/I/5ArwduhqgHL._AC_SL1500_.jpg", "Safe: non-toxic ABS."),
    *("a", "Toys & Games", "x", "a b", "", " ", "  ", " a", "a ", "a  b", "a\tb", "\t", "a\t"),
    *(
        "a\nb",
        "é位€ x",
        "a &amp; b",
        "&",
        "a &",
        "& b &amp;",
        "a\u00a0b",
        "a\u200bb",
        "\x00",
        "a\u3000b",
        "<b>a</b>",
    ),
    *(None, 3, 1.5, True, ["a"], {"a": 1}),
)


@pytest.mark.parametrize("seed", range(2))
def test_clean_texts_matches_cleaning_each_value(seed: int) -> None:
    """The test of a whole list at once (``_all_clean``) takes a list as it is only when cleaning
    each value would give the same."""
    rng = random.Random(200 + seed)
    clean = _LIST_VALUES[:5]
    as_they_are = 0
    for _ in range(20_000):
        # Mostly clean lists, some with one or two values of any kind.
        values = rng.choices(clean, k=rng.randint(0, 6))
        for _ in range(rng.choice((0, 0, 1, 2))):
            values.insert(rng.randint(0, len(values)), rng.choice(_LIST_VALUES))
        for dedupe in (False, True):
            each = [t for v in values if (t := clean_text(v))]
            expected = tuple(dict.fromkeys(each)) if dedupe else tuple(each)
            assert clean_texts(values, dedupe=dedupe) == expected, repr(values)
            assert clean_texts(tuple(values), dedupe=dedupe) == expected, repr(values)
        as_they_are += all(clean_text(v) == v for v in values)
    assert 5_000 < as_they_are < 15_000


@pytest.mark.parametrize("seed", range(2))
def test_parse_bsr_matches_the_plain_code(seed: int) -> None:
    for text in _random_texts(100 + seed, 10_000):
        assert parse_bsr(text) == plain_parse_bsr(text), repr(text)


def test_the_random_texts_hold_entries() -> None:
    """Enough of the random texts read as rankings for the comparison above to mean something."""
    texts = _random_texts(100, 10_000)
    assert sum(1 for t in texts if len(plain_parse_bsr(t)) >= 2) > 2_000
    assert sum(1 for t in texts if plain_clean_text(t) != t) > 5_000


# Texts in (and just off) the plain form parse_bsr reads without the general pattern.
_PLAIN_RANKS = ("1", "12", "640", "1,234", "148,232", "1,234,567", "0", "1234", "12,34", "1,2345")
_PLAIN_RANKS_OFF = ("1.234", "1 234", "٣٤", "\uff11", "12,34,567", "")
_PLAIN_CATEGORIES = (
    *("Home & Kitchen", "Chef's Knives", "Yoga Mats", "x", "é位€", "Top", "in", "en Foo"),
    *("-", "Foo -", "Foo - -", "Foo.", "Foo:", ":;,.", "a • b", "Foo |", "· Foo ·", "|"),
    *("No", "No.", "n", "Nr.", "n°", "Nº", "Foo No", "Foo n.", "Foo Nr. ", "- No", "In"),
)
_PLAIN_CATEGORIES_OFF = (
    *("Foo 5", "Foo#", "5", "", " ", "Foo (See Top 100 in Foo)", "a  b", "3 in 1", "Foo 5 in Bar"),
    *("Pack of 12 en X", "Size 2位", "No. 5 in X", "Foo #5 in Bar", "Clothing (Men)", "(Top)"),
    *("Foo (See Top 100 in X #5 in Y)", "Foo (see top 100 in X)", "Foo (Top 100)", "Foo ("),
    *("Foo (See Top 100 in (X))", "Foo (See Top 100 in X) (See Top 100 in Y)", "Foo)"),
)
_PLAIN_SEPARATORS = (" ", " ", " ", " - ", " | ", "  ", "", " • ", "\n", " (See Top 100 in X) ")


def _plain_form_texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        off = rng.random() < 0.3
        entries = []
        for _ in range(rng.randint(1, 4)):
            rank = rng.choice(_PLAIN_RANKS_OFF if off and rng.random() < 0.3 else _PLAIN_RANKS)
            category = rng.choice(
                _PLAIN_CATEGORIES_OFF if off and rng.random() < 0.3 else _PLAIN_CATEGORIES
            )
            join = " In " if off and rng.random() < 0.1 else " in "
            entries.append("#" + rank + join + category)
        separator = rng.choice(_PLAIN_SEPARATORS) if off else " "
        text = separator.join(entries)
        if rng.random() < 0.3:
            text += rng.choice((" ", " (See Top 100 in Foo)", " .", " (See Top 100 in 5 Foo)"))
        texts.append(text)
    return texts


@pytest.mark.parametrize("seed", range(2))
def test_parse_bsr_reads_the_plain_form_as_the_plain_code(seed: int) -> None:
    texts = _plain_form_texts(200 + seed, 10_000)
    for text in texts:
        assert parse_bsr(text) == plain_parse_bsr(text), repr(text)
    # Most of them take the plain form's path, and some just miss it.
    plain = sum(1 for text in texts if _BSR_PLAIN.fullmatch(text))
    assert 3_000 < plain < 9_500
