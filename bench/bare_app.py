"""The read-path benchmark's ceiling: a bare Litestar app answering the three read routes with
the very JSON the gateway answered (captured from it first), under the gateway's own server
settings (gateway/serving.py). No auth, database, cache, middleware or logging: what is left is
the server, the framework and encoding the same JSON.

    python -m bench.bare_app --port PORT   (bodies from $SHELFWATCH_BENCH_BARE_BODIES)
"""

from __future__ import annotations

import argparse
import json
import os
import uuid
from pathlib import Path
from typing import Any

from litestar import Litestar, get

from gateway.serving import serve, settle_heap
from services.core.settings import Settings


def create() -> Litestar:
    bodies: dict[str, Any] = json.loads(
        Path(os.environ["SHELFWATCH_BENCH_BARE_BODIES"]).read_text()
    )

    @get("/api/v1/products/")
    async def list_products() -> Any:
        return bodies["list"]

    @get("/api/v1/products/{tracking_id:uuid}")
    async def detail(tracking_id: uuid.UUID) -> Any:
        return bodies["detail"]

    @get("/api/v1/products/{tracking_id:uuid}/history")
    async def history(tracking_id: uuid.UUID) -> Any:
        return bodies["history"]

    app = Litestar([list_products, detail, history], openapi_config=None, logging_config=None)
    settle_heap()  # as the gateway's factory does
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve("bench.bare_app:create", "127.0.0.1", args.port, Settings().http)


if __name__ == "__main__":
    main()
