"""Logins at a fixed rate from their own process (open loop: a slow login does not slow the
next one down), for the logins-under-load benchmark. Prints one JSON object.

    python -m bench.login_load BASE_URL --rate 5 --duration 10 --email E --password P
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import httpx

from bench.common import percentile


async def _run(base: str, rate: float, duration_s: float, email: str, password: str) -> None:
    latencies: list[float] = []
    failures = 0

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def login() -> None:
            nonlocal failures
            started = time.perf_counter()
            response = await client.post(
                "/api/v1/auth/login", json={"email": email, "password": password}
            )
            latencies.append((time.perf_counter() - started) * 1000)
            failures += response.status_code != 200

        tasks = []
        started = time.perf_counter()
        n = 0
        while time.perf_counter() - started < duration_s:
            tasks.append(asyncio.create_task(login()))
            n += 1
            await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
        await asyncio.gather(*tasks)
    print(
        json.dumps(
            {
                "logins": len(latencies),
                "failures": failures,
                "p50_ms": percentile(latencies, 50),
                "p99_ms": percentile(latencies, 99),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("base")
    parser.add_argument("--rate", type=float, default=5)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--email", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    asyncio.run(_run(args.base, args.rate, args.duration, args.email, args.password))


if __name__ == "__main__":
    main()
