"""Every benchmark still runs end to end and prints its table, at a tiny size.

No timing is asserted here: speed targets live in the benchmarks (bench/README.md). Each
benchmark uses its own scratch database and Redis DB (9-15) and drops them when it ends.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CASES = [
    ("crawl_cycle", ["--sizes", "100,200", "--batch-size", "100"], "Crawl cycle: growth in N"),
    ("ingest_split", ["--products", "300", "--page-size", "100"], "Ingest path split"),
    (
        "read_path",
        [
            *("--products", "20", "--days", "7", "--duration", "1", "--connections", "4"),
            *("--floor-calls", "100", "--rounds", "2"),
        ],
        "Read path: gateway vs bare Litestar",
    ),
    (
        "logins",
        ["--products", "10", "--duration", "1", "--connections", "4", "--rate", "2"],
        "Logins under load",
    ),
    (
        "history_at_scale",
        ["--products", "50", "--points", "20", "--tracked", "20"],
        "History at scale",
    ),
    ("queue_fairness", ["--jobs", "200", "--budget", "3"], "Queue fairness"),
    ("llm_cache", ["--repeats", "5"], "LLM layer: repeated identical report requests"),
    (
        "alert_volume",
        ["--products", "50", "--days", "1"],
        "Alerts per 1 000 products per simulated day",
    ),
]


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("module", "args", "title"), CASES, ids=[c[0] for c in CASES])
def test_benchmark_prints_its_table(module: str, args: list[str], title: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert f"### {title}" in run.stdout
    assert "| " in run.stdout.split(title, 1)[1]  # the table itself
