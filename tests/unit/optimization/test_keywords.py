"""Keyword extraction from competitors' titles and bullets: normalised, ranked by competitors."""

from __future__ import annotations

from services.optimization.keywords import competitor_keywords, missing_keywords, terms, tokens
from tests.unit.optimization.fixtures import competitor_texts


def test_tokens_fold_case_accents_plurals_and_drop_stopwords() -> None:
    assert tokens("The Écouteurs and BATTERIES for Earbuds, 2 pack") == [
        "ecouteur",
        "battery",
        "earbud",
    ]
    assert tokens("glass bass") == ["glass", "bass"]  # words that only look plural


def test_phrases_do_not_span_punctuation() -> None:
    found = terms("Open Ear Headphones, Bluetooth")
    assert "open ear headphone" in found
    assert "headphone bluetooth" not in found


def test_keywords_are_ranked_by_how_many_competitors_use_them() -> None:
    ranked = competitor_keywords(competitor_texts())
    by_term = {k.term: k.competitors for k in ranked}
    assert by_term["open ear headphone"] == 3
    assert by_term["waterproof"] == 3
    assert by_term["noise cancelling"] == 2
    counts = [k.competitors for k in ranked]
    assert counts == sorted(counts, reverse=True)
    # Parts of a phrase used by the same competitors are folded into the phrase.
    assert "open ear" not in by_term and "ear headphone" not in by_term
    # One competitor alone is not evidence.
    assert "trailrun" not in by_term and "mic" not in by_term


def test_one_keyword_stuffed_listing_does_not_dominate() -> None:
    stuffed = ["gel gel gel gel gel gel gel", "gel gel gel"]
    ranked = competitor_keywords([stuffed, ["pad cushion"], ["pad cushion"]])
    assert [k.term for k in ranked] == ["pad cushion"]
    assert ranked[0].share == round(2 / 3, 3)


def test_missing_keywords_skip_what_the_listing_already_says() -> None:
    ranked = competitor_keywords(competitor_texts())
    own = ["Waterproof Open Ear Headphones", "Noise cancelling microphone for calls"]
    missing = [k.term for k in missing_keywords(own, ranked)]
    assert "waterproof" not in missing
    assert "open ear headphone" not in missing
    assert "noise cancelling" not in missing
    assert "usb-c" in missing and "sport" in missing


def test_no_competitors_no_keywords() -> None:
    assert competitor_keywords([]) == []
