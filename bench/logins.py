"""Benchmark: what logins cost everyone else.

The gateway (as in the read-path benchmark, Redis DB 12) serves ``GET /api/v1/products/{id}``
to a load generator holding 64 connections; measured once alone, then while another process
signs the seller in 5 times a second (argon2id password checks). Target: the other requests'
p99 with logins at most 2x their p99 without.

    uv run python -m bench.logins [--duration 10] [--rate 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from bench import loadgen
from bench.common import ROOT, bench, machine, table, verdict
from bench.read_path import gateway, seed
from bench.seed import SELLER_EMAIL, SELLER_PASSWORD

REDIS_DB = 12
MAX_RATIO = 2.0


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    async with bench("logins", REDIS_DB) as state:
        seeded = await seed(state, args.products, 30)
        # Logins come from one address; the per-IP limit is policy, not what is measured.
        async with gateway(
            state, seeded, "logins-gateway.log", SHELFWATCH_HTTP__ANONYMOUS_RATE_PER_MINUTE="100000"
        ) as gw:
            url = gw.base + gw.paths["detail"]

            def other() -> dict[str, Any]:
                return loadgen.run(
                    url, connections=args.connections, duration_s=args.duration, token=gw.token
                )

            alone = await asyncio.to_thread(other)
            logins = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.login_load",
                gw.base,
                "--rate",
                str(args.rate),
                "--duration",
                str(args.duration + 1),
                "--email",
                SELLER_EMAIL,
                "--password",
                SELLER_PASSWORD,
                cwd=ROOT,
                stdout=asyncio.subprocess.PIPE,
            )
            await asyncio.sleep(0.5)
            loaded = await asyncio.to_thread(other)
            out, _ = await logins.communicate()
            if logins.returncode:
                raise RuntimeError("the login generator failed (its error is above)")
    return {"alone": alone, "with_logins": loaded, "logins": json.loads(out)}


def report(r: dict[str, Any], args: argparse.Namespace) -> str:
    a, w, lg = r["alone"], r["with_logins"], r["logins"]
    ratio = w["p99_ms"] / a["p99_ms"]
    rows = [
        ("no logins", f"{a['rps']:,.0f}", f"{a['p50_ms']:.1f}", f"{a['p99_ms']:.1f}", "1.00x", "-"),
        (
            f"{args.rate:g} logins/s",
            f"{w['rps']:,.0f}",
            f"{w['p50_ms']:.1f}",
            f"{w['p99_ms']:.1f}",
            f"{ratio:.2f}x",
            f"{lg['logins']} done, {lg['failures']} failed; p50 {lg['p50_ms']:.0f} ms, "
            f"p99 {lg['p99_ms']:.0f} ms",
        ),
    ]
    notes = [
        f"machine: {machine()}",
        f"load generator: {loadgen.tool()}, {args.connections} connections on "
        f"GET /api/v1/products/{{id}}, {args.duration:.0f} s per measurement",
        f"p99 with logins <= {MAX_RATIO:.0f}x without: {verdict(ratio <= MAX_RATIO)}",
    ]
    return (
        table(
            "Logins under load",
            ["scenario", "other req/s", "other p50 ms", "other p99 ms", "p99 vs none", "logins"],
            rows,
        )
        + "\n\n"
        + "\n".join(f"- {n}" for n in notes)
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument("--rate", type=float, default=5)
    args = parser.parse_args()
    print(report(asyncio.run(_run(args)), args), flush=True)


if __name__ == "__main__":
    main()
