"""What this installation runs on."""

from __future__ import annotations

from litestar import Controller, get
from litestar.datastructures import State

from gateway.controllers.product import data_source
from gateway.dependencies import resources
from gateway.version import VERSION


class SystemController(Controller):
    path = "/api/v1/system"
    tags = ["system"]

    @get("/")
    async def info(self, state: State) -> dict[str, str]:
        """Version, environment and where crawl data comes from (Apify or the simulator)."""
        source = data_source(state)
        return {
            "version": VERSION,
            "environment": resources(state).settings.environment.value,
            "data_source": source,
            "notice": "Crawl data is SIMULATED by the bundled Apify simulator"
            if source == "simulator"
            else "Crawl data comes from Apify",
        }
