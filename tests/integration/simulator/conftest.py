"""The simulator over HTTP, driven by the real ``ApifyClientAsync`` (no mocks)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from apify_client import ApifyClientAsync

from simulator.config import SimulatorConfig
from simulator.server import SimulatorServer

TOKEN = "sim-test-token-7f3a9c"


@pytest.fixture(autouse=True)
def _isolate() -> None:
    """The simulator keeps no data in PostgreSQL or Redis: nothing to reset (and no DB needed)."""


@pytest.fixture
def simulator() -> Iterator[SimulatorServer]:
    with SimulatorServer(SimulatorConfig()) as server:
        yield server


def make_client(
    server: SimulatorServer, token: str | None = TOKEN, max_retries: int = 4
) -> ApifyClientAsync:
    """The client exactly as the crawler builds it, pointed at the simulator."""
    return ApifyClientAsync(
        token=token,
        api_url=server.url,
        max_retries=max_retries,
        min_delay_between_retries=timedelta(milliseconds=10),
        timeout_medium=timedelta(seconds=30),
    )


@pytest.fixture
def client(simulator: SimulatorServer) -> ApifyClientAsync:
    return make_client(simulator)
