"""HTTP load against one URL from a separate process: ``wrk`` when installed (Debian package
``wrk``), else a small asyncio/httpx generator (``python -m bench.loadgen``) with the same
output, so the benchmarks also run where wrk is not installed (slower: it needs more CPU per
request than wrk, which the table says).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import time
from typing import Any

import httpx

from bench.common import ROOT, percentile

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if match is None:
        raise ValueError(f"unreadable wrk duration {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def tool() -> str:
    return "wrk" if shutil.which("wrk") else "python"


def run(
    url: str, *, connections: int, duration_s: float, token: str | None = None, threads: int = 2
) -> dict[str, Any]:
    """Requests/s, p50/p99 latency (ms) and error count of a closed-loop load."""
    headers = ["-H", f"Authorization: Bearer {token}"] if token else []
    if tool() == "wrk":
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(duration_s))}s",
                "--latency",
                "--timeout",
                "10s",
                *headers,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
        p50 = _ms(re.search(r"\s50%\s+(\S+)", out)[1])  # type: ignore[index]
        p99 = _ms(re.search(r"\s99%\s+(\S+)", out)[1])  # type: ignore[index]
        total = int(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
        non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
        socket_errors = re.search(r"Socket errors: (.*)", out)
        errors = int(non2xx[1]) if non2xx else 0
        if socket_errors:
            errors += sum(int(n) for n in re.findall(r"\d+", socket_errors[1]))
        if total == 0:  # nothing finished within the run: no latency to speak of
            p50 = p99 = float("inf")
        return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "requests": total, "errors": errors}
    args = [sys.executable, "-m", "bench.loadgen", url, "-c", str(connections)]
    args += ["-d", str(duration_s)] + (["--token", token] if token else [])
    out = subprocess.run(args, capture_output=True, text=True, check=True, cwd=ROOT).stdout
    result: dict[str, Any] = json.loads(out)
    return result


async def _load(url: str, connections: int, duration_s: float, token: str | None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration_s
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=10, headers=headers) as client:

        async def loop() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await client.get(url)
                    ok = response.status_code < 400
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - started) * 1000)
                errors += not ok

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 50) if latencies else float("inf"),
        "p99_ms": percentile(latencies, 99) if latencies else float("inf"),
        "requests": len(latencies),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("-c", "--connections", type=int, default=64)
    parser.add_argument("-d", "--duration", type=float, default=10)
    parser.add_argument("--token")
    args = parser.parse_args()
    result = asyncio.run(_load(args.url, args.connections, args.duration, args.token))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
