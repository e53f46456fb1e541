"""Fixtures for the crawl pipeline: the bundled simulator and the real Apify client against it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from services.core.settings import Settings
from services.product.apify.client import ApifyConnector
from simulator.config import SimulatorConfig
from simulator.server import SimulatorServer


@pytest.fixture
def simulator() -> Iterator[SimulatorServer]:
    with SimulatorServer(SimulatorConfig()) as server:
        yield server


@pytest.fixture
def crawl_settings(settings: Settings, simulator: SimulatorServer) -> Settings:
    tuned = settings.model_copy(deep=True)
    tuned.apify.base_url = simulator.url
    tuned.apify.token = SecretStr("test-token")
    tuned.apify.simulated = True
    tuned.apify.batch_size = 50
    tuned.apify.page_size = 20
    tuned.crawl.poll_wait_s = 5
    tuned.apify.freshness_window_s = 3600
    tuned.apify.max_retries = 4
    return tuned


@pytest.fixture
def gateway(crawl_settings: Settings) -> ApifyConnector:
    return ApifyConnector(crawl_settings.apify)
