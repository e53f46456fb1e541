"""The simulator's knobs: simulated clock, run timing, pricing and fault injection."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Rate = Field(default=0.0, ge=0.0, le=1.0)


class SimulatorConfig(BaseModel):
    """Everything that steers the simulator; every fault is off by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Simulated clock: the data of "today" is the data of UTC today plus this many days.
    day_offset: int = Field(default=0, ge=-36_500, le=36_500)
    # Seed of the catalogue (every product's history) and of the transport fault draws.
    seed: int = Field(default=0, ge=0)
    # How long a run stays RUNNING; zero is the fast path the benchmark relies on.
    run_duration_s: float = Field(default=0.0, ge=0.0, le=3_600.0)
    price_per_item_usd: float = Field(default=0.004, ge=0.0, le=10.0)
    # Share of (marketplace, ASIN) pairs that are permanently not found.
    not_found_share: float = Field(default=0.02, ge=0.0, le=1.0)
    # Upper bound of ?waitForFinish=, as on Apify.
    max_wait_s: float = Field(default=60.0, ge=0.0, le=600.0)
    # Run records kept in memory; the oldest are forgotten beyond this.
    max_runs: int = Field(default=10_000, ge=1, le=1_000_000)

    # Transport faults, drawn per API request (random, seeded).
    latency_ms: int = Field(default=0, ge=0, le=120_000)
    rate_429: float = Rate
    rate_5xx: float = Rate
    # Data faults, decided per (run, ASIN) from a hash, so a page reads the same twice.
    blocked_rate: float = Rate
    missing_fields_rate: float = Rate
    missing_asin_rate: float = Rate
    failed_run_rate: float = Rate

    def updated(self, **changes: Any) -> SimulatorConfig:
        """A validated copy with ``changes`` applied (unknown keys are refused)."""
        return SimulatorConfig.model_validate({**self.model_dump(), **changes})
