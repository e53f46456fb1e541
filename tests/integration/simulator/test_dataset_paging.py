"""Dataset paging follows Apify's offset/total, not the number of items a page returned.

With ``clean=true`` Apify skips empty and hidden rows but still counts them in ``offset`` and
``total``; this stand-in dataset endpoint does exactly that, and the real apify-client talks
to it over HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from services.core.embedded import free_port
from services.core.errors import TransientError
from services.core.settings import Settings
from services.product.apify.client import ApifyConnector

# Ten rows: four are empty (skipped by clean=true), one of them fills a whole page of three.
ROWS: list[dict[str, Any]] = [
    {"n": 0},
    {},
    {"n": 2},
    {},
    {},
    {},
    {"n": 6},
    {"n": 7},
    {"n": 8},
    {"n": 9},
]


@pytest.fixture
def dataset_server() -> Iterator[tuple[str, list[int]]]:
    port = free_port()
    offsets: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            offset = int(query.get("offset", ["0"])[0])
            limit = int(query.get("limit", ["1000"])[0])
            clean = query.get("clean", ["false"])[0] in ("true", "1")
            offsets.append(offset)
            window = ROWS[offset : offset + limit]
            items = [row for row in window if row] if clean else window
            body = json.dumps(items).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Apify-Pagination-Total", str(len(ROWS)))
            self.send_header("X-Apify-Pagination-Offset", str(offset))
            self.send_header("X-Apify-Pagination-Count", str(len(items)))
            self.send_header("X-Apify-Pagination-Limit", str(limit))
            self.send_header("X-Apify-Pagination-Desc", "false")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", offsets
    server.shutdown()
    server.server_close()


async def test_paging_with_clean_rows_reads_every_item_once(
    settings: Settings, dataset_server: tuple[str, list[int]]
) -> None:
    base_url, offsets = dataset_server
    apify = settings.apify.model_copy(update={"page_size": 3, "token": settings.apify.token})
    gateway = ApifyConnector(apify, base_url=base_url)
    seen: list[tuple[int, list[int]]] = []
    async for offset, items in gateway.pages("ds"):
        seen.append((offset, [item["n"] for item in items]))
    assert seen == [(0, [0, 2]), (6, [6, 7, 8]), (9, [9])]
    assert offsets == [0, 3, 6, 9]  # every row scanned once, the empty page included

    # Resuming at a page boundary reads only what follows.
    offsets.clear()
    resumed = [offset async for offset, _ in gateway.pages("ds", start_offset=6)]
    assert (resumed, offsets) == ([6, 9], [6, 9])


@pytest.fixture
def broken_page_server() -> Iterator[str]:
    """A dataset endpoint whose body is cut off mid-item."""
    port = free_port()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'[{"n": 0}, {"n": 1'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            for name in ("Total", "Offset", "Count", "Limit"):
                self.send_header(f"X-Apify-Pagination-{name}", "2" if name != "Offset" else "0")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


async def test_a_page_that_cannot_be_decoded_is_a_transient_failure(
    settings: Settings, broken_page_server: str
) -> None:
    """The job retries it later, as it does any other failed read of a page."""
    gateway = ApifyConnector(settings.apify, base_url=broken_page_server)
    with pytest.raises(TransientError):
        async for _ in gateway.pages("ds"):
            pass
