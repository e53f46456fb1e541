"""Benchmark: the seller's read path under load, against a bare Litestar app.

A seller tracks 1 000 products with 90 days of daily snapshots. The gateway runs as production
runs it (``shelfwatch gateway``: gateway/serving.py's server settings, INFO access log) on a
scratch database and Redis DB 9; a bare Litestar app (bench/bare_app.py) answers the same three
routes with the very JSON the gateway answered, under the same server settings. A load
generator in its own process (wrk, or bench/loadgen.py) holds 64 connections on each of

- ``GET /api/v1/products?limit=50`` (cached list),
- ``GET /api/v1/products/{id}`` (detail: cached state + listing + alerts),
- ``GET /api/v1/products/{id}/history?range=90d`` (cached series),

first against the gateway, then against the bare app. Targets: >= 50 % of the bare app's
requests/s, p99 <= 100 ms. ``--variants`` also measures the gateway's serving alternatives
(processes, event loop, HTTP parser) in the same run: the numbers behind gateway/serving.py.

    uv run python -m bench.read_path [--products 1000] [--duration 8] [--rounds 4] [--variants]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from bench import loadgen, read_floor
from bench.common import LOGS, Bench, bench, cpu_seconds, machine, table, verdict, wait_http
from bench.seed import SELLER_EMAIL, SELLER_PASSWORD, Seeded, seed_catalogue
from services.core.embedded import free_port
from services.core.settings import Settings

REDIS_DB = 9
MIN_SHARE = 0.5
MAX_P99_MS = 100.0


@dataclass
class Gateway:
    base: str
    token: str
    process: subprocess.Popen[bytes]
    paths: dict[str, str]


ROUTES = ("list", "detail", "history")


def route_paths(seeded: Seeded) -> dict[str, str]:
    tracking = seeded.tracking_ids[len(seeded.tracking_ids) // 2]
    return {
        "list": "/api/v1/products/?limit=50",
        "detail": f"/api/v1/products/{tracking}",
        "history": f"/api/v1/products/{tracking}/history?range=90d",
    }


async def seed(state: Bench, products: int, days: int) -> Seeded:
    db_url = await state.fresh_database()
    conn = await asyncpg.connect(db_url)
    try:
        return await seed_catalogue(
            conn, products=products, tracked=products, points=days, span_days=days
        )
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def gateway(
    state: Bench, seeded: Seeded, log: str = "read-gateway.log", **env: str
) -> AsyncIterator[Gateway]:
    """``shelfwatch gateway`` on a free port, signed in as the seeded seller, caches warm."""
    port = free_port()
    log_path = LOGS / log
    offset = log_path.stat().st_size if log_path.exists() else 0
    process = state.spawn(
        ["gateway", "--port", str(port)],
        state.env(SHELFWATCH_LOG_LEVEL="INFO", **env),
        log,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_http(f"{base}/health/live")
        # Several processes share one socket: wait until every one of them has started.
        workers = int(env.get("SHELFWATCH_HTTP__WORKERS", "1"))
        for _ in range(600):
            with log_path.open("rb") as f:
                f.seek(offset)
                if f.read().count(b"Application startup complete") >= workers:
                    break
            await asyncio.sleep(0.2)
        paths = route_paths(seeded)
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            response = await client.post(
                "/api/v1/auth/login", json={"email": SELLER_EMAIL, "password": SELLER_PASSWORD}
            )
            response.raise_for_status()
            token = response.json()["access_token"]
            for _ in range(2):  # the first read fills the caches
                for path in paths.values():
                    (
                        await client.get(path, headers={"Authorization": f"Bearer {token}"})
                    ).raise_for_status()
        yield Gateway(base, token, process, paths)
    finally:
        state.stop(process)


async def bodies(gw: Gateway) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=gw.base, timeout=30) as client:
        return {
            name: (await client.get(path, headers={"Authorization": f"Bearer {gw.token}"})).json()
            for name, path in gw.paths.items()
        }


def pooled(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Equal-length rounds as one measurement: mean req/s, CPU per request over all of them,
    the median round's p50 and the worst round's p99."""
    requests = sum(r["requests"] for r in rounds)
    cpu_ms = sum(r["cpu_ms"] * r["requests"] for r in rounds)
    p50s = sorted(r["p50_ms"] for r in rounds)
    return {
        "rps": sum(r["rps"] for r in rounds) / len(rounds),
        "p50_ms": p50s[len(p50s) // 2],
        "p99_ms": max(r["p99_ms"] for r in rounds),
        "requests": requests,
        "errors": sum(r["errors"] for r in rounds),
        "cpu_ms": cpu_ms / max(1, requests),
    }


def load(
    base: str,
    path: str,
    args: argparse.Namespace,
    pid: int,
    token: str | None = None,
    duration_s: float | None = None,
) -> dict[str, Any]:
    """The load generator's figures plus the server's CPU time per request: on a shared
    machine req/s moves with everyone else's load, CPU per request much less."""
    before = cpu_seconds(pid)
    result = loadgen.run(
        base + path,
        connections=args.connections,
        duration_s=duration_s or args.duration,
        token=token,
    )
    result["cpu_ms"] = (cpu_seconds(pid) - before) * 1000 / max(1, result["requests"])
    return result


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"routes": {}, "variants": []}
    async with bench("read", REDIS_DB) as state:
        seeded = await seed(state, args.products, args.days)
        async with gateway(state, seeded) as gw:
            captured = await bodies(gw)
            bodies_file = LOGS / "read-bare-bodies.json"
            bodies_file.write_text(json.dumps(captured))
            bare_port = free_port()
            bare = state.spawn(
                ["--port", str(bare_port)],
                state.env(SHELFWATCH_BENCH_BARE_BODIES=str(bodies_file)),
                "read-bare.log",
                module="bench.bare_app",
            )
            bare_base = f"http://127.0.0.1:{bare_port}"
            await wait_http(bare_base + gw.paths["list"])
            for name in ROUTES:
                path = gw.paths[name]
                rounds: dict[str, list[dict[str, Any]]] = {"gateway": [], "bare": []}
                # Alternating short rounds (gateway first, then bare first, ...): on a shared
                # machine the others' load drifts within seconds, and both sides should see
                # the same drift.
                for i in range(args.rounds):
                    sides = [
                        ("gateway", gw.base, gw.process.pid, gw.token),
                        ("bare", bare_base, bare.pid, None),
                    ]
                    for side, base, pid, token in sides if i % 2 == 0 else sides[::-1]:
                        rounds[side].append(
                            await asyncio.to_thread(
                                load, base, path, args, pid, token, args.duration / args.rounds
                            )
                        )
                results["routes"][name] = {
                    "bytes": len(json.dumps(captured[name])),
                    "gateway": pooled(rounds["gateway"]),
                    "bare": pooled(rounds["bare"]),
                }
            state.stop(bare)
            # The same reads in-process, step by step: where a request's CPU goes.
            os.environ.update(state.env())
            routes = {name: (gw.paths[name], captured[name]) for name in ROUTES}
            results["floor"] = await read_floor.measure(
                Settings(), gw.token, routes, calls=args.floor_calls
            )
        if args.variants:
            variants = [
                (
                    "1 process, asyncio + h11",
                    {"SHELFWATCH_HTTP__LOOP": "asyncio", "SHELFWATCH_HTTP__PARSER": "h11"},
                ),
                ("2 processes, uvloop + httptools", {"SHELFWATCH_HTTP__WORKERS": "2"}),
            ]
            default = {name: results["routes"][name]["gateway"] for name in ROUTES}
            results["variants"].append(("1 process, uvloop + httptools (chosen)", default))
            for label, env in variants:
                async with gateway(state, seeded, "read-gateway-variant.log", **env) as gw:
                    measured = {
                        name: await asyncio.to_thread(
                            load, gw.base, gw.paths[name], args, gw.process.pid, gw.token
                        )
                        for name in ROUTES
                    }
                results["variants"].append((label, measured))
    return results


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    rows = []
    all_ok = True
    for name, r in results["routes"].items():
        g, b = r["gateway"], r["bare"]
        share = g["rps"] / b["rps"]
        ok = share >= MIN_SHARE and g["p99_ms"] <= MAX_P99_MS and g["errors"] == 0
        all_ok &= ok
        rows.append(
            (
                name,
                f"{g['rps']:,.0f}",
                f"{b['rps']:,.0f}",
                f"{share:.0%}",
                f"{g['p50_ms']:.1f} / {g['p99_ms']:.1f}",
                f"{b['p50_ms']:.1f} / {b['p99_ms']:.1f}",
                f"{g['cpu_ms']:.2f} / {b['cpu_ms']:.2f}",
                f"{g['errors']} / {b['errors']}",
                f"{r['bytes']:,}",
                verdict(ok),
            )
        )
    out = table(
        f"Read path: gateway vs bare Litestar, {args.connections} connections",
        [
            "route",
            "gateway req/s",
            "bare req/s",
            "gateway / bare",
            "gateway p50 / p99 ms",
            "bare p50 / p99 ms",
            "server CPU ms/req (gw / bare)",
            "errors (gw / bare)",
            "JSON bytes",
            f">= {MIN_SHARE:.0%} and p99 <= {MAX_P99_MS:.0f} ms",
        ],
        rows,
    )
    if results["variants"]:
        vrows = []
        for label, measured in results["variants"]:
            vrows.append(
                (
                    label,
                    *(
                        f"{measured[n]['rps']:,.0f} req/s, p99 {measured[n]['p99_ms']:.0f} ms, "
                        f"{measured[n]['cpu_ms']:.2f} CPU ms/req"
                        for n in ROUTES
                    ),
                )
            )
        out += "\n\n" + table("Gateway serving alternatives", ["serving", *ROUTES], vrows)
    if results.get("floor"):
        steps = results["floor"]
        bare_list = steps[0][1]
        out += "\n\n" + table(
            "Where a cached read's CPU goes (in-process, no HTTP server)",
            ["step", "CPU µs per call", "vs the bare app's list answer"],
            [(label, f"{us:,.0f}", f"{us / bare_list:.1f}x") for label, us in steps],
        )
    notes = [
        f"machine: {machine()}",
        f"load generator: {loadgen.tool()} in its own process, {args.duration:.0f} s per "
        f"route and side in {args.rounds} alternating rounds (p99: the worst round's); "
        f"{args.products:,} tracked products x {args.days} daily snapshots",
        f"every route >= {MIN_SHARE:.0%} of bare and p99 <= {MAX_P99_MS:.0f} ms: {verdict(all_ok)}",
    ]
    return out + "\n\n" + "\n".join(f"- {n}" for n in notes)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument(
        "--rounds", type=int, default=4, help="alternating gateway / bare rounds per route"
    )
    parser.add_argument("--variants", action="store_true", help="also time serving options")
    parser.add_argument(
        "--floor-calls", type=int, default=3000, help="calls per step of the in-process table"
    )
    args = parser.parse_args()
    print(report(asyncio.run(_run(args)), args), flush=True)


if __name__ == "__main__":
    main()
