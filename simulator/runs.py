"""Actor runs and their datasets: a run keeps only its input URLs; items are rendered on read."""

from __future__ import annotations

import math
import secrets
import string
import threading
from array import array
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from simulator.actors import Actor, parse_product_url
from simulator.catalog import product_state, simulated_day
from simulator.config import SimulatorConfig
from simulator.faults import DataFaults, ItemFault, item_fault, run_fails

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED-OUT", "ABORTED"})
# The fields of a run that Apify's run lists carry.
_LIST_ITEM_KEYS = (
    "id",
    "actId",
    "userId",
    "actorTaskId",
    "status",
    "startedAt",
    "finishedAt",
    "buildId",
    "buildNumber",
    "meta",
    "usageTotalUsd",
    "defaultKeyValueStoreId",
    "defaultDatasetId",
    "defaultRequestQueueId",
)
USER_ID = "simulatedUser0001"
_ID_ALPHABET = string.ascii_letters + string.digits


def new_id() -> str:
    """A 17-character id in Apify's style; random so ids never repeat across restarts."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))


def iso(moment: datetime) -> str:
    """A timestamp the way Apify writes them: ``2019-11-30T07:34:24.202Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class RunOptions:
    """What the caller asked for when starting the run."""

    max_items: int | None = None
    max_total_charge_usd: float | None = None
    timeout_secs: int | None = None
    memory_mbytes: int = 1024
    build: str = "latest"


@dataclass(slots=True)
class Run:
    """One actor run; its dataset is computed from ``urls`` whenever it is read."""

    run_id: str
    dataset_id: str
    actor: Actor
    urls: tuple[str, ...]
    # Dataset position → input URL index, only when some URLs are absent from the results.
    kept: array[int] | None
    total: int  # items in the dataset once the run has ended
    day: int
    seed: int
    not_found_share: float
    faults: DataFaults
    price_per_item_usd: float
    options: RunOptions
    input_bytes: int
    started_at: datetime
    finishes_at: datetime
    outcome: str
    status_message: str
    aborted_at: datetime | None = field(default=None)
    # The input as posted: Apify keeps it as the INPUT record of the run's key-value store.
    input_body: bytes = b""
    input_content_type: str = "application/json; charset=utf-8"

    @property
    def key_value_store_id(self) -> str:
        return f"kv{self.run_id[2:]}"

    def status(self, now: datetime) -> str:
        if self.aborted_at is not None:
            return "ABORTED"
        return self.outcome if now >= self.finishes_at else "RUNNING"

    def finished_at(self, now: datetime) -> datetime | None:
        if self.aborted_at is not None:
            return self.aborted_at
        return self.finishes_at if now >= self.finishes_at else None

    def item_count(self, now: datetime) -> int:
        """Items pushed so far: a running run fills its dataset progressively."""
        until = min(now, self.aborted_at or now)
        if until >= self.finishes_at:
            return self.total
        span = (self.finishes_at - self.started_at).total_seconds()
        done = (until - self.started_at).total_seconds()
        return max(0, min(self.total, int(self.total * done / span))) if span > 0 else self.total

    def usage_usd(self, now: datetime) -> float:
        return round(self.item_count(now) * self.price_per_item_usd, 6)

    def render(self, position: int) -> dict[str, Any]:
        """Dataset item number ``position``."""
        index = self.kept[position] if self.kept is not None else position
        url = self.urls[index]
        actor = self.actor
        marketplace, asin = parse_product_url(url)
        fault, omission = item_fault(self.run_id, index, self.faults)
        if marketplace is None or asin is None:
            return actor.not_found(url, asin)
        if fault is ItemFault.BLOCKED:
            return actor.blocked(url, asin)
        state = product_state(self.seed, marketplace, asin, self.day, self.not_found_share)
        if state is None:
            return actor.not_found(url, asin)
        return actor.render(state, url, omission)

    def items(self, offset: int, limit: int, count: int, desc: bool) -> list[dict[str, Any]]:
        """A page of the first ``count`` items, oldest first unless ``desc``."""
        end = min(count, offset + limit)
        if desc:
            return [self.render(count - 1 - i) for i in range(offset, end)]
        return [self.render(i) for i in range(offset, end)]

    def to_api(self, now: datetime, starting: bool = False) -> dict[str, Any]:
        """The run object of the Apify API (``data`` of GET /v2/actor-runs/{id}).

        ``starting`` renders the answer to the start request: RUNNING with nothing pushed yet,
        even when the simulated duration is zero.
        """
        status = "RUNNING" if starting else self.status(now)
        finished = self.finished_at(now) if status in TERMINAL else None
        elapsed = ((finished or now) - self.started_at).total_seconds()
        items = 0 if starting else self.item_count(now)
        return {
            "id": self.run_id,
            "actId": self.actor.actor_id,
            "userId": USER_ID,
            "actorTaskId": None,
            "startedAt": iso(self.started_at),
            "finishedAt": iso(finished) if finished else None,
            "status": status,
            "statusMessage": self.status_message if status in TERMINAL else "Crawling products",
            "isStatusMessageTerminal": status in TERMINAL,
            "meta": {"origin": "API", "userAgent": "ApifyClient"},
            "stats": {
                "inputBodyLen": self.input_bytes,
                "restartCount": 0,
                "resurrectCount": 0,
                "durationMillis": int(elapsed * 1000),
                "runTimeSecs": round(elapsed, 3),
                "computeUnits": round(elapsed / 3600, 6),
            },
            "options": {
                "build": self.options.build,
                "timeoutSecs": self.options.timeout_secs or 0,
                "memoryMbytes": self.options.memory_mbytes,
                "diskMbytes": self.options.memory_mbytes * 2,
                "maxItems": self.options.max_items,
                "maxTotalChargeUsd": self.options.max_total_charge_usd,
            },
            "buildId": "simulatedBuild001",
            "buildNumber": "1.0.1",
            "exitCode": None if status == "RUNNING" else (0 if status == "SUCCEEDED" else 1),
            "defaultKeyValueStoreId": self.key_value_store_id,
            "defaultDatasetId": self.dataset_id,
            "defaultRequestQueueId": f"rq{self.run_id[2:]}",
            "usageTotalUsd": round(items * self.price_per_item_usd, 6),
            "chargedEventCounts": {"result": items},
        }

    def list_item(self, now: datetime) -> dict[str, Any]:
        """One run in a list of runs (GET /v2/acts/{actor}/runs): the run object's summary."""
        full = self.to_api(now)
        return {key: full[key] for key in _LIST_ITEM_KEYS}

    def summary(self, now: datetime) -> dict[str, Any]:
        """One line of GET /_sim/runs."""
        finished = self.finished_at(now)
        return {
            "id": self.run_id,
            "actor": self.actor.name,
            "status": self.status(now),
            "asinCount": len(self.urls),
            "itemCount": self.item_count(now),
            "day": date.fromordinal(self.day).isoformat(),
            "defaultDatasetId": self.dataset_id,
            "startedAt": iso(self.started_at),
            "finishedAt": iso(finished) if finished else None,
            "usageTotalUsd": self.usage_usd(now),
        }


def start_run(
    actor: Actor,
    urls: list[str],
    options: RunOptions,
    config: SimulatorConfig,
    input_bytes: int,
    now: datetime | None = None,
    input_body: bytes = b"",
) -> Run:
    """A new run: decides now which URLs yield items, how many, and how the run ends."""
    now = now or datetime.now(UTC)
    run_id = new_id()
    faults = DataFaults.of(config)
    kept: array[int] | None = None
    available = len(urls)
    if faults.missing_asin_rate:
        kept = array(
            "I",
            (
                i
                for i in range(len(urls))
                if item_fault(run_id, i, faults)[0] is not ItemFault.ABSENT
            ),
        )
        available = len(kept)
    total, message = available, f"Finished! Total {available} requests: {available} succeeded"
    if options.max_items is not None and options.max_items < total:
        total, message = options.max_items, f"Finished: reached maxItems ({options.max_items})"
    if options.max_total_charge_usd is not None and config.price_per_item_usd > 0:
        affordable = math.floor(options.max_total_charge_usd / config.price_per_item_usd + 1e-9)
        if affordable < total:
            total = affordable
            message = f"Finished: reached maxTotalChargeUsd ({options.max_total_charge_usd})"
    duration = config.run_duration_s
    outcome = "SUCCEEDED"
    if run_fails(run_id, faults):
        # A crash halfway: what was pushed before it stays in the dataset.
        outcome, total, message = "FAILED", total // 2, "The Actor process was killed (simulated)"
    elif options.timeout_secs and duration > options.timeout_secs:
        total = int(total * options.timeout_secs / duration)
        duration = float(options.timeout_secs)
        outcome, message = "TIMED-OUT", "The Actor run timed out (simulated)"
    return Run(
        run_id=run_id,
        dataset_id=new_id(),
        actor=actor,
        urls=tuple(urls),
        kept=kept,
        total=total,
        day=simulated_day(config.day_offset, now),
        seed=config.seed,
        not_found_share=config.not_found_share,
        faults=faults,
        price_per_item_usd=config.price_per_item_usd,
        options=options,
        input_bytes=input_bytes,
        started_at=now,
        finishes_at=now + timedelta(seconds=duration),
        outcome=outcome,
        status_message=message,
        input_body=input_body,
    )


class RunStore:
    """The runs in memory, oldest forgotten first; safe to read from another thread."""

    def __init__(self, max_runs: int) -> None:
        self.max_runs = max_runs
        self._runs: OrderedDict[str, Run] = OrderedDict()
        self._by_dataset: dict[str, str] = {}
        self._by_store: dict[str, str] = {}
        self._lock = threading.Lock()

    def add(self, run: Run) -> None:
        with self._lock:
            self._runs[run.run_id] = run
            self._by_dataset[run.dataset_id] = run.run_id
            self._by_store[run.key_value_store_id] = run.run_id
            while len(self._runs) > self.max_runs:
                _, oldest = self._runs.popitem(last=False)
                self._by_dataset.pop(oldest.dataset_id, None)
                self._by_store.pop(oldest.key_value_store_id, None)

    def get(self, run_id: str) -> Run | None:
        return self._runs.get(run_id)

    def by_dataset(self, dataset_id: str) -> Run | None:
        run_id = self._by_dataset.get(dataset_id)
        return self._runs.get(run_id) if run_id else None

    def by_store(self, store_id: str) -> Run | None:
        run_id = self._by_store.get(store_id)
        return self._runs.get(run_id) if run_id else None

    def all(self) -> list[Run]:
        with self._lock:
            return list(self._runs.values())

    def clear(self) -> None:
        with self._lock:
            self._runs.clear()
            self._by_dataset.clear()
            self._by_store.clear()
