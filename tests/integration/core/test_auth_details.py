"""Auth details: hashing off the event loop, OWASP-style login throttling, no-store on tokens,
readiness details only for admins."""

from __future__ import annotations

import asyncio
import time

import httpx
from redis.asyncio import Redis

from cli.admin import create_admin
from services.auth.service import LoginThrottle
from services.core.settings import Settings
from tests.integration.conftest import PASSWORD

VICTIM = "victim@example.com"


async def _register(client: httpx.AsyncClient, email: str) -> None:
    r = await client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text


async def _login(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD, ip: str = "198.51.100.1"
) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/login",
        json={"email": email, "password": password},
        headers={"x-forwarded-for": ip},
    )


async def test_an_outsider_cannot_lock_a_seller_out(client: httpx.AsyncClient) -> None:
    await _register(client, VICTIM)
    attacker = "203.0.113.66"
    for _ in range(12):
        r = await _login(client, VICTIM, "Wrong-passw0rd1", ip=attacker)
        assert r.status_code in (401, 429)
    assert (await _login(client, VICTIM, ip=attacker)).status_code == 429  # the attacker waits
    # The seller, from their own address, is not locked out.
    r = await _login(client, VICTIM, ip="198.51.100.7")
    assert r.status_code == 200, r.text


async def test_one_ip_guessing_across_accounts_is_throttled(client: httpx.AsyncClient) -> None:
    await _register(client, VICTIM)
    sprayer = "203.0.113.99"
    codes = [
        (await _login(client, f"user{i}@example.com", "Wrong-passw0rd1", ip=sprayer)).status_code
        for i in range(21)
    ]
    assert codes[:20] == [401] * 20 and codes[20] == 429
    r = await _login(client, VICTIM, ip=sprayer)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    assert (await _login(client, VICTIM, ip="198.51.100.8")).status_code == 200


async def test_delays_grow_per_account_and_ip(redis: Redis, settings: Settings) -> None:
    throttle = LoginThrottle(redis, settings.auth)
    waits = []
    for _ in range(settings.auth.login_max_failures + 4):
        await throttle.record_failure(VICTIM, "203.0.113.5")
        ttl = await redis.ttl(throttle._keys(VICTIM, "203.0.113.5")[1])
        waits.append(max(ttl, 0))
    free = settings.auth.login_max_failures - 1
    assert waits[:free] == [0] * free
    assert waits[free:] == [1, 2, 4, 8, 16]
    await throttle.reset_account(VICTIM, "203.0.113.5")
    await throttle.check(VICTIM, "203.0.113.5")  # a success clears the pair


async def test_token_answers_are_not_stored(client: httpx.AsyncClient) -> None:
    await _register(client, VICTIM)
    r = await _login(client, VICTIM)
    assert r.status_code == 200
    assert "no-store" in r.headers["cache-control"]
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": r.json()["refresh_token"]})
    assert r.status_code == 200
    assert "no-store" in r.headers["cache-control"]


async def test_readiness_details_are_for_admins_only(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    r = await client.get("/health/ready")
    assert (r.status_code, r.json()) == (200, {"status": "ready"})
    await _register(client, VICTIM)
    token = (await _login(client, VICTIM)).json()["access_token"]
    r = await client.get("/health/ready", headers={"authorization": f"Bearer {token}"})
    assert r.json() == {"status": "ready"}
    await create_admin(settings, "ops@example.com", PASSWORD)
    token = (await _login(client, "ops@example.com")).json()["access_token"]
    r = await client.get("/health/ready", headers={"authorization": f"Bearer {token}"})
    assert r.json()["checks"]["database"] == "ok"
    assert r.json()["checks"]["redis"] == "ok"


async def test_logins_do_not_stall_other_requests(client: httpx.AsyncClient) -> None:
    """argon2 runs in a thread: liveness answers quickly while logins are being checked."""
    await _register(client, VICTIM)
    started = time.perf_counter()
    await _login(client, VICTIM)
    one_login_s = time.perf_counter() - started

    latencies: list[float] = []

    async def probe() -> None:
        # Latency counted from when each probe was due, so time the loop spent blocked
        # before the probe could even start counts too.
        base = time.perf_counter()
        for i in range(40):
            due = base + i * 0.02
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            assert (await client.get("/health/live")).status_code == 200
            latencies.append(time.perf_counter() - due)

    logins = [_login(client, VICTIM, ip=f"198.51.100.{i}") for i in range(10, 14)]
    await asyncio.gather(probe(), *logins)
    latencies.sort()
    median = latencies[len(latencies) // 2]
    # Hashing on the loop, most probes would wait out a whole hash (about one login's time);
    # the margin is wide because the test machine's CPU is shared.
    assert median < 0.5 * one_login_s, (median, latencies[-3:], one_login_s)
