"""Benchmark: the ingest path split into stages, against its floor.

The simulator runs one actor run over N products; its dataset pages are fetched first, as raw
JSON bytes, so the network and the item generator are out of the measurement. Then, page by
page, the worker's own path runs: decode (``decode_items``, what ``ApifyConnector.pages`` does
with each body), parse (``parse_page``: the actor adapter, the product lookup and the item
counters), write (``write_page`` in its own transaction, as the crawler does). The floor is the
same pages decoded by the fastest decoder installed (msgspec, or orjson when present) plus a raw
``COPY`` of the very rows the write stage stored, into plain tables with the same keys. Target:
the path within 3x the floor.

    uv run python -m bench.ingest_split [--products 20000] [--page-size 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import asyncpg
import httpx
import msgspec

from bench.common import bench, machine, table, verdict
from bench.crawl_cycle import _seed
from services.core.db import create_engine, create_sessionmaker
from services.core.embedded import free_port, wait_for_port
from services.core.settings import Settings
from services.product.apify.adapters import adapter_for
from services.product.apify.client import ApifyConnector
from services.product.crawl import ProductLookup, parse_page
from services.product.marketplaces import Marketplace, product_url
from services.product.repository.snapshots import (
    LISTING_COLUMNS,
    SNAPSHOT_COLUMNS,
    SnapshotRepository,
    _listing_record,
    _snapshot_record,
)

TARGET_RATIO = 3.0
REPEATS = 3


def _best(fn: Callable[[], Any]) -> tuple[Any, float]:
    """fn's result and its fastest time of REPEATS runs."""
    best, result = float("inf"), None
    for _ in range(REPEATS):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return result, best


def _fastest_decoder() -> tuple[str, Callable[[bytes], Any]]:
    try:
        import orjson  # type: ignore[import-not-found]

        return f"orjson {orjson.__version__}", orjson.loads
    except ImportError:
        return f"msgspec {msgspec.__version__}", msgspec.json.decode


async def _fetch_pages(
    sim_url: str, settings: Settings, identities: list[tuple[int, str, str]], page_size: int
) -> tuple[str, list[bytes]]:
    """Run the actor over every product and download its dataset pages as raw bytes."""
    actor = settings.apify.actor
    adapter = adapter_for(actor)
    gateway = ApifyConnector(settings.apify, base_url=sim_url)
    urls = [product_url(Marketplace(m), asin) for _, m, asin in identities]
    info = await gateway.start_run(
        actor, adapter.build_input(urls), max_items=len(urls) * 2, timeout_s=3600
    )
    info = await gateway.check(info.run_id, 60)
    pages: list[bytes] = []
    async with httpx.AsyncClient(base_url=sim_url, timeout=120) as client:
        offset = 0
        while True:
            response = await client.get(
                f"/v2/datasets/{info.dataset_id}/items",
                params={"offset": offset, "limit": page_size, "clean": "1", "format": "json"},
                headers={"Authorization": "Bearer bench"},
            )
            response.raise_for_status()
            total = int(response.headers.get("x-apify-pagination-total", "0"))
            if response.content.strip() in (b"", b"[]"):
                break
            pages.append(response.content)
            offset += page_size
            if offset >= total:
                break
    return actor, pages


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    async with bench("ingest", None) as state:
        db_url = await state.fresh_database()
        await _seed(db_url, args.products)
        conn = await asyncpg.connect(db_url)
        identities = [
            (r["id"], r["marketplace"], r["asin"])
            for r in await conn.fetch("SELECT id, marketplace, asin FROM products ORDER BY id")
        ]
        sim_port = free_port()
        state.spawn(["apify-sim", "--port", str(sim_port)], state.env(), "ingest-sim.log")
        wait_for_port(sim_port, 20)
        settings = Settings()
        settings.apify.token = settings.apify.token.__class__("bench")
        settings.database.url = db_url
        settings.apify.max_charge_usd = 1e6  # the charge cap would cut the dataset short
        actor, pages = await _fetch_pages(
            f"http://127.0.0.1:{sim_port}", settings, identities, args.page_size
        )
        adapter = adapter_for(actor)
        lookup = ProductLookup(identities)
        engine = create_engine(settings)
        sessionmaker = create_sessionmaker(engine)
        run_id, captured_at = uuid.uuid4(), datetime.now(UTC).replace(microsecond=0)

        # The worker's path, stage by stage.
        decode_s = parse_s = write_s = 0.0
        parsed_pages = []
        items = 0
        for raw_page in pages:
            # CPU-only stages: best of REPEATS, since other processes share the cores.
            page, took = _best(partial(adapter.decode_page, raw_page))
            decode_s += took
            (parsed, _), took = _best(partial(parse_page, adapter, lookup, page, actor, run_id))
            parse_s += took
            t0 = time.perf_counter()
            async with sessionmaker() as session, session.begin():
                await SnapshotRepository(session).write_page(run_id, captured_at, parsed)
            write_s += time.perf_counter() - t0
            parsed_pages.append(parsed)
            items += len(page)
        await engine.dispose()
        if args.profile:
            _profile_parse(adapter, lookup, actor, [adapter.decode_page(p) for p in pages])
        written = await conn.fetchval(
            "SELECT count(*) FROM snapshots WHERE crawl_run_id = $1", run_id
        )
        listings = await conn.fetchval(
            "SELECT count(*) FROM listing_versions WHERE crawl_run_id = $1", run_id
        )

        # The floor: fastest decode + raw COPY of the same rows, into plain keyed tables.
        decoder_name, fast_decode = _fastest_decoder()
        await conn.execute(
            "CREATE TABLE floor_snapshots (LIKE snapshots INCLUDING DEFAULTS);"
            "ALTER TABLE floor_snapshots ADD PRIMARY KEY (product_id, crawl_run_id, captured_at);"
            "CREATE TABLE floor_listings (LIKE listing_versions INCLUDING DEFAULTS);"
            "ALTER TABLE floor_listings ADD PRIMARY KEY (id);"
        )
        floor_run = uuid.uuid4()
        records = [
            (
                [_snapshot_record(pid, floor_run, captured_at, it) for pid, it in parsed],
                [
                    _listing_record(pid, floor_run, captured_at, it.listing)
                    for pid, it in parsed
                    if it.listing is not None and it.status.value == "ok"
                ],
            )
            for parsed in parsed_pages
        ]
        fdecode_s = fcopy_s = 0.0
        for raw_page, (snaps, lists) in zip(pages, records, strict=True):
            fdecode_s += _best(partial(fast_decode, raw_page))[1]
            t1 = time.perf_counter()
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "floor_snapshots", records=snaps, columns=list(SNAPSHOT_COLUMNS)
                )
                if lists:
                    await conn.copy_records_to_table(
                        "floor_listings", records=lists, columns=list(LISTING_COLUMNS)
                    )
            t2 = time.perf_counter()
            fcopy_s += t2 - t1
        await conn.close()
        return {
            "products": args.products,
            "pages": len(pages),
            "items": items,
            "bytes": sum(len(p) for p in pages),
            "written": written,
            "listings": listings,
            "actor": actor,
            "decoder": decoder_name,
            "decode_s": decode_s,
            "parse_s": parse_s,
            "write_s": write_s,
            "fdecode_s": fdecode_s,
            "fcopy_s": fcopy_s,
        }


def _profile_parse(adapter: Any, lookup: ProductLookup, actor: str, pages: list[Any]) -> None:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for page in pages:
        parse_page(adapter, lookup, page, actor, uuid.uuid4())
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


def report(r: dict[str, Any]) -> str:
    n = r["items"]

    def us(seconds: float) -> str:
        return f"{seconds / n * 1e6:.1f}"

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.1f}x" if b else "-"

    path = r["decode_s"] + r["parse_s"] + r["write_s"]
    floor = r["fdecode_s"] + r["fcopy_s"]
    rows = [
        (
            "decode",
            f"decode_page: {us(r['decode_s'])}",
            f"{r['decoder']}: {us(r['fdecode_s'])}",
            ratio(r["decode_s"], r["fdecode_s"]),
        ),
        ("parse (parse_page)", us(r["parse_s"]), "0 (not needed)", "-"),
        (
            "write",
            f"write_page: {us(r['write_s'])}",
            f"raw COPY: {us(r['fcopy_s'])}",
            ratio(r["write_s"], r["fcopy_s"]),
        ),
        ("total", us(path), us(floor), ratio(path, floor)),
    ]
    notes = [
        f"machine: {machine()}",
        f"{r['products']:,} products, actor {r['actor']}, {r['pages']} pages, {n:,} items, "
        f"{r['bytes'] / n:,.0f} bytes/item; written: {r['written']:,} snapshots, "
        f"{r['listings']:,} listing versions",
        f"path <= {TARGET_RATIO:.0f}x floor: {verdict(path <= TARGET_RATIO * floor)} "
        f"({path / floor:.1f}x)",
    ]
    return (
        table(
            "Ingest path split (µs per product)",
            ["stage", "worker path", "floor", "path / floor"],
            rows,
        )
        + "\n\n"
        + "\n".join(f"- {x}" for x in notes)
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--profile", action="store_true", help="print a profile of parsing")
    args = parser.parse_args()
    print(report(asyncio.run(_run(args))), flush=True)


if __name__ == "__main__":
    main()
