"""Fault injection: data faults decided by hash per (run, item), transport faults drawn at random.

Data faults are a pure function of the run id and the item's position, so a dataset page read
twice (a retry, a resumed worker) is identical. Transport faults (429, 5xx) come from one seeded
random generator per simulator, as a flaky network would produce them.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass
from enum import Enum

from simulator.config import SimulatorConfig
from simulator.formats import Omission
from simulator.seeding import chance, draws

_SERVER_ERRORS = (500, 502, 503, 504)


class ItemFault(Enum):
    """What goes wrong with one URL of a run."""

    NONE = "none"
    ABSENT = "absent"  # silently missing from the results
    BLOCKED = "blocked"  # captcha / robot check item
    PARTIAL = "partial"  # found, but a key field is missing


@dataclass(frozen=True, slots=True)
class DataFaults:
    """The data fault rates a run was started with (later config changes do not alter it)."""

    blocked_rate: float = 0.0
    missing_fields_rate: float = 0.0
    missing_asin_rate: float = 0.0
    failed_run_rate: float = 0.0

    @classmethod
    def of(cls, config: SimulatorConfig) -> DataFaults:
        return cls(
            config.blocked_rate,
            config.missing_fields_rate,
            config.missing_asin_rate,
            config.failed_run_rate,
        )

    @property
    def any_item_fault(self) -> bool:
        return bool(self.blocked_rate or self.missing_fields_rate or self.missing_asin_rate)


_OMISSIONS = (Omission.PRICE, Omission.BSR, Omission.TITLE)


def item_fault(run_id: str, index: int, faults: DataFaults) -> tuple[ItemFault, Omission]:
    """The fault of input URL number ``index`` of a run, and the field it lacks if partial."""
    if not faults.any_item_fault:
        return ItemFault.NONE, Omission.NONE
    w = draws("fault", run_id, index)
    if chance(w[0], faults.missing_asin_rate):
        return ItemFault.ABSENT, Omission.NONE
    if chance(w[1], faults.blocked_rate):
        return ItemFault.BLOCKED, Omission.NONE
    if chance(w[2], faults.missing_fields_rate):
        return ItemFault.PARTIAL, _OMISSIONS[w[3] % len(_OMISSIONS)]
    return ItemFault.NONE, Omission.NONE


def run_fails(run_id: str, faults: DataFaults) -> bool:
    """Whether a run ends FAILED."""
    return chance(draws("run", run_id)[0], faults.failed_run_rate)


class TransportFaults:
    """Seeded draws of 429 and 5xx answers, shared by all requests of one simulator."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        # Status code -> how many answers were faked, so tests and operators can see the faults.
        self.injected: Counter[int] = Counter()

    def reseed(self, seed: int) -> None:
        with self._lock:
            self._random.seed(seed)

    def pick(self, rate_429: float, rate_5xx: float) -> int | None:
        """The error status this request gets, or None to serve it."""
        if not (rate_429 or rate_5xx):
            return None
        with self._lock:
            roll = self._random.random()
            code = self._random.choice(_SERVER_ERRORS)
            status = 429 if roll < rate_429 else code if roll < rate_429 + rate_5xx else None
            if status is not None:
                self.injected[status] += 1
        return status
