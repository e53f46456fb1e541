"""Keywords competitors use: normalised terms from their titles and bullets, ranked by how many
competitors use them (document frequency), so one keyword-stuffed listing cannot dominate."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.core.stopwords import GLUE_WORDS

# Words that carry no search intent on an Amazon listing (articles, glue words, filler claims).
STOPWORDS = GLUE_WORDS | frozenset(
    {
        "best",
        "but",
        "if",
        "no",
        "pc",
        "pcs",
        "plus",
        "too",
        "us",
        "via",
        "x",
        "yours",
    }
)
_SEGMENT = re.compile(r"[,;:|/()\[\]!?.]+|\s[-\u2013\u2014]\s")
_TOKEN = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")


def _fold(text: str) -> str:
    """Lower case without accents, so 'Écouteurs' and 'ecouteurs' are one term."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _singular(word: str) -> str:
    # A light stemmer: enough to merge "earbuds"/"earbud" and "batteries"/"battery" without a
    # language model; words that only look plural ("glass", "bass") keep their s.
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """Normalised content words of a text, in order."""
    words = []
    for raw in _TOKEN.findall(_fold(text)):
        word = raw.replace("'", "")
        if word in STOPWORDS or len(word) < 2 or word.isdigit():
            continue
        words.append(_singular(word))
    return words


def terms(text: str) -> set[str]:
    """Single words and runs of two and three adjacent words ("noise cancelling") of a text."""
    found: set[str] = set()
    # Phrases never span punctuation: "Headphones, Bluetooth" is two claims, not one phrase.
    for segment in _SEGMENT.split(text):
        words = tokens(segment)
        found.update(words)
        for n in (2, 3):
            for i in range(len(words) - n + 1):
                gram = words[i : i + n]
                if len(set(gram)) == n:
                    found.add(" ".join(gram))
    return found


def _inside(short: str, long: str) -> bool:
    return f" {short} " in f" {long} "


@dataclass(frozen=True, slots=True)
class Keyword:
    term: str
    competitors: int  # how many competitors use it
    share: float  # competitors using it / competitors


def competitor_keywords(
    listings: Sequence[Iterable[str]], min_competitors: int = 2
) -> list[Keyword]:
    """Terms used by at least ``min_competitors`` competitors (each listing given as its texts:
    title and bullets), most widely used first, pairs before their own words on ties."""
    if not listings:
        return []
    counts: dict[str, int] = {}
    for texts in listings:
        for term in set().union(*(terms(t) for t in texts)) if texts else set():
            counts[term] = counts.get(term, 0) + 1
    needed = max(1, min(min_competitors, len(listings)))
    kept = {t: n for t, n in counts.items() if n >= needed}
    # A term inside a longer one that as many competitors use adds nothing: "open ear" and
    # "headphone" are both said by "open ear headphone" when the same listings use it.
    maximal = {
        t: n
        for t, n in kept.items()
        if not any(n == m and o != t and _inside(t, o) for o, m in kept.items())
    }
    ranked = sorted(maximal.items(), key=lambda tn: (-tn[1], -tn[0].count(" "), tn[0]))
    return [Keyword(t, n, round(n / len(listings), 3)) for t, n in ranked]


def missing_keywords(own_texts: Iterable[str], ranked: Sequence[Keyword]) -> list[Keyword]:
    """The ranked competitor keywords this listing does not use; a phrase whose words all appear
    is not missing, and a term inside a phrase already listed is not listed twice."""
    own = set().union(*(terms(t) for t in own_texts))
    missing: list[Keyword] = []
    for kw in ranked:
        words = kw.term.split()
        if kw.term in own or (len(words) > 1 and all(w in own for w in words)):
            continue
        if any(_inside(kw.term, m.term) for m in missing):
            continue
        missing.append(kw)
    return missing
