"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.core.errors import FieldError, InvalidInput

# argon2-cffi's default (RFC 9106's low-memory choice: t=3, 64 MiB) with one lane instead of
# four: the same memory and passes, so the same cost to a guesser, but one core per login instead
# of every core at once (a login then took both of a two-core host from the requests being
# served; bench/README.md, logins). Hashes made with four lanes still verify, and are made
# again with these parameters at the next sign-in (``needs_rehash``).
_hasher = PasswordHasher(parallelism=1)
# Verifying against this keeps an unknown email as slow as a wrong password.
_DUMMY_HASH = _hasher.hash("shelfwatch-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches; an absent hash still costs one verification."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


# argon2id costs ~0.3 s of CPU per call. On the event loop that would stall every other
# request of the process for as long; in a worker thread it does not (argon2-cffi releases
# the GIL while it hashes). One call at a time: each call already spreads its four lanes over
# threads of its own, so concurrent logins would only multiply the threads competing with
# the event loop for the cores (logins queue for the hasher instead; their total time is the
# same, bounded by CPU either way).
# The hashing thread also runs at a lower scheduling priority (nice 10): on a busy host a login
# yields the CPU to the requests being served (bench/README.md, logins).
HASHER_NICENESS = 10


def _lower_priority() -> None:
    # Linux: a thread's nice value is its own, set through its thread id. Elsewhere, or when
    # not allowed, the hashing thread keeps the default priority.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHER_NICENESS)


_HASHER_THREAD = ThreadPoolExecutor(
    max_workers=1, thread_name_prefix="argon2", initializer=_lower_priority
)


async def hash_password_off_loop(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_HASHER_THREAD, hash_password, password)


async def verify_password_off_loop(password_hash: str | None, password: str) -> bool:
    return await asyncio.get_running_loop().run_in_executor(
        _HASHER_THREAD, verify_password, password_hash, password
    )


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def check_password_policy(password: str, email: str, min_length: int) -> None:
    """Refuse short, one-class or email-like passwords with a field error saying why."""
    problems: list[str] = []
    if len(password) < min_length:
        problems.append(f"must be at least {min_length} characters")
    if not re.search(r"[A-Za-z]", password) or not re.search(r"[^A-Za-z]", password):
        problems.append("must mix letters with digits or symbols")
    if email and email.split("@")[0].lower() in password.lower():
        problems.append("must not contain the email address")
    if password.strip() != password:
        problems.append("must not start or end with spaces")
    if problems:
        raise InvalidInput(
            "The password does not meet the policy",
            field_errors=[FieldError("password", "; ".join(problems))],
        )
