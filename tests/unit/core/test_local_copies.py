"""The edge's copies of stored answers: one per view, bounded in bytes, never past the life
of their Redis entry."""

from __future__ import annotations

import time

from services.core.read_cache import CachedView, LocalCopies


def view(n: int) -> CachedView:
    return CachedView((f"cache:list-version:u{n}",), f"cache:detail-json:u{n}:", f":t{n}")


def test_a_copy_is_held_under_its_entry_key_until_its_entry_expires() -> None:
    copies = LocalCopies(max_bytes=1000)
    copies.keep(view(1), "cache:detail-json:u1:tok:t1", b"answer", lifetime_ms=50)
    assert copies.held(view(1)) == ("cache:detail-json:u1:tok:t1", b"answer")
    assert copies.held(view(2)) is None
    time.sleep(0.06)
    assert copies.held(view(1)) is None


def test_a_newer_copy_replaces_the_views_old_one() -> None:
    copies = LocalCopies(max_bytes=1000)
    copies.keep(view(1), "k-old", b"old", lifetime_ms=60_000)
    copies.keep(view(1), "k-new", b"new", lifetime_ms=60_000)
    assert copies.held(view(1)) == ("k-new", b"new")


def test_the_oldest_copies_go_first_past_the_byte_bound() -> None:
    copies = LocalCopies(max_bytes=1000)
    for n in range(5):
        copies.keep(view(n), f"k{n}", bytes(240), lifetime_ms=60_000)
    # 5 x 240 bytes do not fit in 1 000: the first is dropped, the last four stay.
    assert copies.held(view(0)) is None
    assert all(copies.held(view(n)) is not None for n in range(1, 5))


def test_an_entry_without_a_known_life_or_too_big_is_not_held() -> None:
    copies = LocalCopies(max_bytes=1000)
    copies.keep(view(1), "k1", b"no expiry", lifetime_ms=-1)
    copies.keep(view(2), "k2", bytes(300), lifetime_ms=60_000)
    assert copies.held(view(1)) is None and copies.held(view(2)) is None
