"""HTTP-level fixtures: the real gateway app (lifespan and edge layers included) over httpx."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.app import create_litestar, wrap_edge
from services.core.pipelining import PIPELINE_CALLS
from services.core.settings import Settings
from simulator.openai_sim import OpenAISimServer
from tests.conftest import reset_state

PASSWORD = "a-Strong-passw0rd"
_emails = itertools.count(1)


@pytest.fixture(autouse=True)
async def _isolate(engine: AsyncEngine, settings: Settings) -> None:
    await reset_state(engine, settings)


_APPS: dict[int, Any] = {}


@contextmanager
def counted() -> Iterator[list[str]]:
    """Every SQL statement any engine of this process sends while the block runs."""
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def current_resources(client: httpx.AsyncClient) -> Any:
    """The running app's resources behind a test client (to break Redis on purpose)."""
    return _APPS[id(client)].state.resources


@asynccontextmanager
async def app_client(
    settings: Settings, base_url: str = "http://test"
) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway app with its lifespan running, behind an httpx client."""
    app = create_litestar(settings)
    started, stop = asyncio.Event(), asyncio.Event()

    async def serve_lifespan() -> None:
        # Entered and exited in one task: anyio's cancel scopes inside demand it.
        async with app.lifespan():
            started.set()
            await stop.wait()

    runner = asyncio.create_task(serve_lifespan())
    await started.wait()
    transport = httpx.ASGITransport(app=wrap_edge(app, settings))  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
            _APPS[id(http)] = app
            yield http
            _APPS.pop(id(http), None)
    finally:
        stop.set()
        await runner


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings) as http:
        yield http


AuthHeaders = dict[str, str]


@pytest.fixture
def make_seller(client: httpx.AsyncClient) -> Callable[..., Awaitable[AuthHeaders]]:
    """Register and log in a new seller; returns the Authorization header."""

    async def make(email: str | None = None) -> AuthHeaders:
        email = email or f"seller{next(_emails)}@example.com"
        r = await client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
        assert r.status_code == 201, r.text
        r = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    return make


@pytest.fixture
def openai_sim() -> Iterator[OpenAISimServer]:
    """The bundled OpenAI stand-in on a free port (its request counter starts at zero)."""
    with OpenAISimServer() as server:
        yield server


@pytest.fixture
def llm_settings(settings: Settings, openai_sim: OpenAISimServer) -> Settings:
    """Settings whose OpenAI layer points the real ``openai`` client at the stand-in."""
    tuned = settings.model_copy(deep=True)
    tuned.openai.api_key = SecretStr("sk-test-stand-in")
    tuned.openai.base_url = openai_sim.url
    tuned.openai.timeout_s = 5
    tuned.openai.max_retries = 2
    return tuned


def scraped(text: str, name: str, path: str, status: int = 200) -> float:
    """One GET series' value in a /metrics scrape (0 when it is not there yet)."""
    for line in text.splitlines():
        labels = (f'path="{path}"', f'status_code="{status}"', 'method="GET"')
        if line.startswith(name + "{") and all(label in line for label in labels):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def pipelined(script: str) -> tuple[float, float]:
    """(pipelines sent, calls in them) so far for one edge script, from its histogram."""
    count = calls = 0.0
    for metric in PIPELINE_CALLS.collect():
        for sample in metric.samples:
            if sample.labels.get("script") != script:
                continue
            if sample.name.endswith("_count"):
                count = sample.value
            elif sample.name.endswith("_sum"):
                calls = sample.value
    return count, calls
