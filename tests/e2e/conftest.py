"""End-to-end fixtures: real gateway, worker, scheduler and simulator processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from services.core.embedded import free_port, port_open
from services.core.settings import Settings
from tests.conftest import reset_state

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Stack:
    """Starts `shelfwatch` subcommands as real processes sharing one environment."""

    env: dict[str, str]
    logs: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, *args: str, extra_env: dict[str, str] | None = None) -> None:
        with (self.logs / f"{name}.log").open("ab") as out:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "cli.main", *args],
                cwd=ROOT,
                env={**self.env, **(extra_env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_port(self, name: str, port: int, timeout_s: float = 90) -> None:
        """Block until process `name` listens on port; fail at once, with its log, if it exits."""
        deadline = time.monotonic() + timeout_s
        process = self.processes[name]
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(
                    f"{name} exited with {process.returncode}:\n{self.log(name)[-4000:]}"
                )
            if port_open(port):
                return
            time.sleep(0.05)
        raise AssertionError(
            f"{name} did not listen on {port} in {timeout_s}s:\n{self.log(name)[-4000:]}"
        )

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text()

    def records(self, name: str) -> list[dict[str, Any]]:
        """The process's JSON log lines, parsed (anything else it printed is skipped)."""
        return [json.loads(line) for line in self.log(name).splitlines() if line.startswith("{")]

    def stop(self, name: str, timeout_s: float = 20) -> int:
        process = self.processes.pop(name)
        process.terminate()
        try:
            return process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)


@pytest.fixture(autouse=True)
async def _isolate(engine: AsyncEngine, settings: Settings) -> None:
    await reset_state(engine, settings)


@pytest.fixture
def stack(settings: Settings, tmp_path: Path) -> Iterator[Stack]:
    sim_port = free_port()
    env = {
        **os.environ,
        "SHELFWATCH_ENVIRONMENT": "test",
        "SHELFWATCH_DATABASE__URL": settings.database.url,
        "SHELFWATCH_REDIS__URL": settings.redis.url,
        "SHELFWATCH_AUTH__JWT_SECRET": settings.auth.jwt_secret.get_secret_value(),
        "SHELFWATCH_APIFY__BASE_URL": f"http://127.0.0.1:{sim_port}",
        "SHELFWATCH_APIFY__TOKEN": "e2e-token",
        "SHELFWATCH_APIFY__SIMULATED": "true",
        "SHELFWATCH_QUEUE__METRICS_PORT": "0",
        "SHELFWATCH_QUEUE__SCHEDULER_METRICS_PORT": "0",
        "SHELFWATCH_SIM_PORT": str(sim_port),
    }
    stack = Stack(env=env, logs=tmp_path)
    yield stack
    stack.stop_all()
