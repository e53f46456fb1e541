"""How the gateway is served in production: one place for the server settings, so the gateway
and the read-path benchmark's bare comparison app run under exactly the same ones.

The choice (see bench/README.md, "Serving choice", for the numbers behind it): uvicorn with
uvloop and httptools (asyncio + h11 cost ~1.8x the CPU per cached read),
``SHELFWATCH_HTTP__WORKERS`` processes, responses encoded by Litestar's msgspec encoder, and the
heap frozen once the app is built. The default is 1 process: a deployment scales by gateway
replicas behind Caddy, and ``shelfwatch up`` shares its host with PostgreSQL, Redis and the
workers; on a host with idle cores 2 gave 1.7x the requests/s.
"""

from __future__ import annotations

import gc
from typing import Any

from litestar.types import ASGIApp

from services.core.settings import HttpSettings


def server_options(http: HttpSettings) -> dict[str, Any]:
    return {
        "workers": http.workers,
        "loop": http.loop,
        "http": http.parser,
        "log_config": None,
        "access_log": False,  # our middleware writes the access log, as JSON
        "proxy_headers": False,  # X-Forwarded-For is read only from trusted proxies, by us
        "server_header": False,
    }


def serve(target: str, host: str, port: int, http: HttpSettings) -> None:
    """Serve the ASGI app factory at ``target`` ("module:function"): an import string, so that
    several worker processes can each build their own app."""
    import uvicorn

    uvicorn.run(target, factory=True, host=host, port=port, **server_options(http))


def settle_heap() -> None:
    """Keep everything built so far out of the cyclic garbage collector's passes.

    A served app's routes, schemas and ORM mappings (~200 000 objects for the gateway) live as
    long as the process; every full collection walked them all, ~0.1 s each under load, and
    those pauses were the read path's p99. ``gc.freeze`` is the standard library's answer."""
    gc.collect()
    gc.freeze()


def create_served_app() -> ASGIApp:
    """The factory each gateway process calls (a spawned worker process configures its own
    logging: it does not inherit the parent's)."""
    from gateway.app import create_app
    from services.core.logging import configure_logging
    from services.core.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level, process="shelfwatch-gateway")
    app = create_app(settings)
    settle_heap()
    return app
