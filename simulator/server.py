"""Running the simulator: in a background thread for tests and benchmarks, or in the foreground."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import uvicorn

from simulator.app import create_app, simulator_state
from simulator.config import SimulatorConfig
from simulator.state import SimulatorState


class SimulatorServer:
    """The simulator on 127.0.0.1 in a daemon thread; a context manager."""

    def __init__(
        self, config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.app = create_app(config)
        self.state: SimulatorState = simulator_state(self.app)
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

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

    def start(self, timeout_s: float = 10.0) -> SimulatorServer:
        """Start listening; returns once requests are served."""
        if self._thread is not None:
            return self
        # Binding here (port 0 = any free port) avoids the race of "find a port, then bind".
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(
                self.app, log_level="warning", access_log=False, lifespan="off", ws="none"
            )
        )
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="apify-simulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the Apify simulator did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving and wait for the thread to end."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._server = None
        self._thread = None

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


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
