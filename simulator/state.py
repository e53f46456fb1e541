"""The live state of one simulator: its current config, its runs and its transport fault draws."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from simulator.catalog import simulated_day
from simulator.config import SimulatorConfig
from simulator.faults import TransportFaults
from simulator.runs import RunStore


class SimulatorState:
    """Shared by the request handlers and, in tests, by the thread that owns the server."""

    def __init__(self, config: SimulatorConfig) -> None:
        # Replaced as a whole on update, so a request always sees one consistent config.
        self.config = config
        self.runs = RunStore(config.max_runs)
        self.transport = TransportFaults(config.seed)

    def update(self, **changes: Any) -> SimulatorConfig:
        """Apply validated changes (faults, day offset, …) to every request from now on."""
        new = self.config.updated(**changes)
        if new.seed != self.config.seed:
            self.transport.reseed(new.seed)
        self.runs.max_runs = new.max_runs
        self.config = new
        return new

    def today(self) -> date:
        """The simulated date new runs get their data for."""
        return date.fromordinal(simulated_day(self.config.day_offset, datetime.now(UTC)))
