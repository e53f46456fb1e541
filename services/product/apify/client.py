"""The one door to Apify: start a batch run, wait for it, stream its dataset page by page.

The real ``apify-client`` does the HTTP (and retries 429/5xx with exponential backoff itself);
what it still cannot get through becomes a ``TransientError`` so the job retries later.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from apify_client import ApifyClientAsync
from apify_client.errors import ApifyApiError, ApifyClientError

from services.core.errors import TransientError
from services.core.settings import ApifySettings

logger = logging.getLogger(__name__)

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED-OUT", "ABORTED"})


@dataclass(frozen=True, slots=True)
class RunInfo:
    run_id: str
    status: str
    dataset_id: str
    started_at: datetime | None
    finished_at: datetime | None
    cost_usd: Decimal | None
    status_message: str | None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


def _run_info(run: Any) -> RunInfo:
    cost = getattr(run, "usage_total_usd", None)
    return RunInfo(
        run_id=run.id,
        status=str(run.status),
        dataset_id=run.default_dataset_id,
        started_at=getattr(run, "started_at", None),
        finished_at=getattr(run, "finished_at", None),
        cost_usd=Decimal(str(cost)) if cost is not None else None,
        status_message=getattr(run, "status_message", None),
    )


def _is_transient(exc: ApifyClientError) -> bool:
    if isinstance(exc, ApifyApiError):
        status = getattr(exc, "status_code", None)
        return status is None or status == 429 or status >= 500
    return True  # network errors, timeouts


class ApifyConnector:
    """Batch crawling through the real async Apify client; the token only ever in a header."""

    def __init__(self, settings: ApifySettings, base_url: str | None = None) -> None:
        self.settings = settings
        self.client = ApifyClientAsync(
            token=settings.token.get_secret_value() or None,
            api_url=base_url or settings.base_url or "https://api.apify.com",
            max_retries=settings.max_retries,
            min_delay_between_retries=timedelta(milliseconds=500),
            timeout_medium=timedelta(seconds=settings.request_timeout_s),
            timeout_long=timedelta(seconds=settings.request_timeout_s * 2),
        )

    async def start_run(self, actor: str, run_input: dict[str, Any], max_items: int) -> RunInfo:
        """Start one actor run for a whole batch, capped in items and in charge."""
        try:
            run = await self.client.actor(actor).start(
                run_input=run_input,
                max_items=max_items,
                max_total_charge_usd=Decimal(str(self.settings.max_charge_usd)),
            )
        except ApifyClientError as exc:
            raise self._translate(exc, "start run") from exc
        return _run_info(run)

    async def wait(self, run_id: str, wait_s: int) -> RunInfo:
        """Wait up to ``wait_s`` for the run to end; still running afterwards is transient."""
        try:
            run = await self.client.run(run_id).wait_for_finish(
                wait_duration=timedelta(seconds=wait_s)
            )
        except ApifyClientError as exc:
            raise self._translate(exc, "wait for run") from exc
        if run is None:
            raise TransientError(f"run {run_id} not found while waiting")
        info = _run_info(run)
        if not info.finished:
            raise TransientError(f"run {run_id} still {info.status} after {wait_s}s")
        return info

    async def pages(
        self, dataset_id: str, start_offset: int = 0
    ) -> AsyncIterator[tuple[int, list[dict[str, Any]]]]:
        """Yield (offset, items) one page at a time, so memory stays flat whatever the batch."""
        offset = start_offset
        while True:
            try:
                page = await self.client.dataset(dataset_id).list_items(
                    offset=offset, limit=self.settings.page_size, clean=True
                )
            except ApifyClientError as exc:
                raise self._translate(exc, "list dataset items") from exc
            if page.items:
                yield offset, page.items
            # Follow the API's own offset/total: with clean=true a page skips empty and hidden
            # rows, so it can hold fewer items than rows it scanned (even none, mid-dataset);
            # counting returned items would re-read rows and stop early.
            requested = self.settings.page_size
            scanned = min(page.limit, requested) if page.limit > 0 else requested
            offset = page.offset + scanned
            if offset >= page.total or page.total == 0:
                return

    @staticmethod
    def _translate(exc: ApifyClientError, action: str) -> Exception:
        if _is_transient(exc):
            return TransientError(f"Apify {action} failed: {type(exc).__name__}")
        return exc
