"""Password hashing: one lane, on a hashing thread that yields the CPU to request serving;
hashes made with the library's default four lanes still verify and are made again."""

from __future__ import annotations

import asyncio
import os
import sys
import threading

import pytest
from argon2 import PasswordHasher

from services.auth import passwords


async def test_a_new_hash_uses_one_lane_and_verifies() -> None:
    made = await passwords.hash_password_off_loop("Correct-horse-battery-9")
    assert ",p=1$" in made
    assert await passwords.verify_password_off_loop(made, "Correct-horse-battery-9")
    assert not await passwords.verify_password_off_loop(made, "Wrong-horse-battery-9")
    assert not passwords.needs_rehash(made)


async def test_a_four_lane_hash_still_verifies_and_is_made_again() -> None:
    old = PasswordHasher().hash("Correct-horse-battery-9")  # the library's default, p=4
    assert ",p=4$" in old
    assert await passwords.verify_password_off_loop(old, "Correct-horse-battery-9")
    assert passwords.needs_rehash(old)


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice values are Linux's")
async def test_hashing_runs_at_a_lower_priority_than_serving() -> None:
    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    loop = asyncio.get_running_loop()
    hashing = await loop.run_in_executor(passwords._HASHER_THREAD, niceness)
    assert hashing >= niceness() + passwords.HASHER_NICENESS or hashing == 19
