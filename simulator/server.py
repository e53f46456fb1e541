"""Running the simulator: in a background thread for tests and benchmarks, or in the foreground."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import uvicorn

from simulator.app import create_app, simulator_state
from simulator.config import SimulatorConfig
from simulator.state import SimulatorState
from simulator.threaded import ThreadedServer


class SimulatorServer(ThreadedServer):
    """The simulator on 127.0.0.1 in a daemon thread; a context manager."""

    label = "Apify simulator"
    thread_name = "apify-simulator"

    def __init__(
        self, config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        super().__init__(create_app(config), host, port)
        self.state: SimulatorState = simulator_state(self.app)

    @property
    def url(self) -> str:
        """The base URL to give ``ApifyClientAsync(api_url=…)``."""
        return f"http://{self.host}:{self.port}"

    @property
    def config(self) -> SimulatorConfig:
        return self.state.config

    def update_config(self, **changes: Any) -> SimulatorConfig:
        """Change faults, day offset, … for every request from now on."""
        return self.state.update(**changes)

    def injected_errors(self) -> dict[int, int]:
        """How many 429 / 5xx answers the transport faults have faked so far, by status."""
        return dict(self.state.transport.injected)

    def runs(self) -> list[dict[str, Any]]:
        """The runs started so far, oldest first, as ``GET /_sim/runs`` lists them."""
        now = datetime.now(UTC)
        return [run.summary(now) for run in self.state.runs.all()]


def serve(host: str, port: int, config: SimulatorConfig) -> None:
    """Serve the simulator in the foreground until interrupted (``shelfwatch apify-sim``)."""
    # No access log: request lines are noise at benchmark rates, and this way nothing a client
    # sends can end up in a log line.
    # log_config=None keeps the process's JSON logging (set up by the CLI) for uvicorn too.
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        log_level="info",
        log_config=None,
        access_log=False,
        ws="none",
    )
