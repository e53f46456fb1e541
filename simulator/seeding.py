"""Stable pseudo-random draws from a key: the same key gives the same numbers in every process."""

from __future__ import annotations

import base64
import hashlib
import struct

_WORDS = struct.Struct("<16I")
U32 = float(1 << 32)
INV32 = 1.0 / U32


def digest(*key: object) -> bytes:
    """64 bytes derived from ``key`` with BLAKE2b (never ``hash()``, which varies per process)."""
    return hashlib.blake2b("|".join(map(str, key)).encode(), digest_size=64).digest()


def digest_of(key: str) -> bytes:
    """:func:`digest` of a key already joined with "|" (the hot paths build it with an f-string)."""
    return hashlib.blake2b(key.encode(), digest_size=64).digest()


def words(raw: bytes) -> tuple[int, ...]:
    """A 64-byte digest as sixteen unsigned 32-bit numbers."""
    return _WORDS.unpack(raw)


def draws(*key: object) -> tuple[int, ...]:
    """Sixteen unsigned 32-bit numbers derived from ``key``."""
    return _WORDS.unpack(digest(*key))


def chance(word: int, probability: float) -> bool:
    """True for a share ``probability`` of all possible draws."""
    return word < probability * U32


def id_text(raw: bytes) -> str:
    """A digest as 86 characters of Amazon's image-id alphabet, to slice ids from."""
    # Base64 with "+" and "-" for "/" and "=": the letters Amazon's image ids are made of.
    return base64.b64encode(raw, altchars=b"+-").decode()


def upper_id(raw: bytes, length: int) -> str:
    """Up to 2 * len(raw) upper-case hex characters (seller ids look like "A294P4X9EWVXLJ")."""
    return raw.hex().upper()[:length]
