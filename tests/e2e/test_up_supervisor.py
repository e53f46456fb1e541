"""``shelfwatch up`` supervising real processes: a crashed child comes back, the rest stay up,
and SIGTERM stops everything."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import TypeVar

import httpx
import psutil
import pytest

from services.core.embedded import free_port
from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]
T = TypeVar("T")


def _children(up: psutil.Process, command: str) -> list[psutil.Process]:
    """The direct children of ``up`` running ``shelfwatch <command>``."""
    found = []
    for child in up.children():
        try:
            if command in child.cmdline()[3:4]:  # python -m cli.main <command>
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def _wait_for(what: str, check: Callable[[], T], timeout_s: float, stack: Stack) -> T:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout_s:.0f} s:\n{stack.log('up')[-4000:]}")


def _live(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health/live", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_killed_worker_is_restarted_and_the_gateway_keeps_answering(stack: Stack) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    stack.start("up", "up", "--no-scheduler", extra_env={"SHELFWATCH_HTTP__PORT": str(port)})
    up = psutil.Process(stack.processes["up"].pid)
    _wait_for("the gateway answers", lambda: _live(url), 90, stack)
    (worker,) = _wait_for("a worker runs", lambda: _children(up, "worker"), 30, stack)
    gateway_pids = {p.pid for p in _children(up, "gateway")}

    worker.send_signal(signal.SIGKILL)

    def new_worker() -> list[psutil.Process]:
        return [p for p in _children(up, "worker") if p.pid != worker.pid and p.is_running()]

    _wait_for("a new worker comes up", new_worker, 30, stack)
    assert stack.processes["up"].poll() is None  # the supervisor is still running
    assert _live(url)
    assert {p.pid for p in _children(up, "gateway")} == gateway_pids  # left alone

    children = up.children(recursive=True)
    assert stack.stop("up") == 0  # SIGTERM: everything stops, cleanly
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == []
    assert not _live(url)
