"""History series and CSV export of one tracked product, served from the cache when fresh."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from services.core.errors import FieldError, InvalidInput
from services.core.read_cache import ReadCache
from services.product.models import Product
from services.product.repository import SnapshotRepository
from services.product.schemas import HistoryMetric, HistoryRange, HistoryRead, SeriesPoint

MAX_SPAN = timedelta(days=2 * 365)
SERIES: TypeAdapter[dict[str, list[SeriesPoint]]] = TypeAdapter(dict[str, list[SeriesPoint]])


def resolve_range(
    range_: str | None, start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime, str | None]:
    """(start, end, cacheable range name). A custom range needs start < end within two years."""
    if start is not None or end is not None:
        end = end or now
        start = start or end - timedelta(days=30)
        if start.tzinfo is None or end.tzinfo is None:
            raise InvalidInput(
                "Give start and end with a timezone", field_errors=[FieldError("start", "naive")]
            )
        if start >= end:
            raise InvalidInput(
                "start must be before end", field_errors=[FieldError("start", "after end")]
            )
        if end - start > MAX_SPAN:
            raise InvalidInput(
                "A range spans two years at most", field_errors=[FieldError("end", "too far")]
            )
        return start, end, None
    name = range_ or HistoryRange.D30
    if name not in set(HistoryRange):
        raise InvalidInput(
            f"Unknown range {name!r}",
            field_errors=[FieldError("range", f"one of {', '.join(HistoryRange)}")],
        )
    return now - timedelta(days=HistoryRange(name).days), now, HistoryRange(name).value


def _series(metric: str, rows: Sequence[Mapping[Any, Any]]) -> dict[str, list[dict[str, Any]]]:
    if metric == "bsr":
        by_category: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            for entry in row["bsr"] or []:
                by_category.setdefault(str(entry["category"]), []).append(
                    {"t": row["captured_at"].isoformat(), "v": entry["rank"]}
                )
        return by_category
    return {
        metric: [
            {"t": row["captured_at"].isoformat(), "v": _plain(row[metric])}
            for row in rows
            if row[metric] is not None
        ]
    }


def _plain(value: Any) -> Any:
    return str(value) if not isinstance(value, bool | int | float | str) else value


class HistoryService:
    def __init__(self, snapshots: SnapshotRepository, cache: ReadCache) -> None:
        self.snapshots = snapshots
        self.cache = cache

    async def _cached(
        self,
        product: Product,
        metric: str,
        range_: str | None,
        start: datetime | None,
        end: datetime | None,
    ) -> tuple[HistoryRead, list[Any] | dict[str, Any]]:
        """(the answer without its points, its series in final JSON form): named ranges are
        cached already serialised, so a hit validates and encodes no point again."""
        if metric not in set(HistoryMetric):
            raise InvalidInput(
                f"Unknown metric {metric!r}",
                field_errors=[FieldError("metric", f"one of {', '.join(HistoryMetric)}")],
            )
        metric = HistoryMetric(metric).value
        now = datetime.now(UTC)
        start, end, name = resolve_range(range_, start, end, now)
        # The last crawl time is part of the key: every ingest makes a new entry.
        version = product.last_crawled_at.timestamp() if product.last_crawled_at else 0
        key = f"cache:history-json:{product.id}:{metric}:{name}:{version}"
        cached = await self.cache.get(key) if name else None
        if cached is None:
            rows = await self.snapshots.history_rows(product.id, start, end)
            series = _series(metric, rows)
            cached = {
                # Validated and serialised once, exactly as the answer carries them.
                "series": SERIES.dump_python(SERIES.validate_python(series), mode="json"),
                "currency": rows[-1]["currency"] if rows else None,
                "as_of": rows[-1]["captured_at"].isoformat() if rows else None,
            }
            if name:
                await self.cache.set(key, cached)
        head = HistoryRead(
            metric=metric,
            start=start,
            end=end,
            currency=cached["currency"],
            series={},
            as_of=cached["as_of"],
        )
        return head, cached["series"]

    async def series(
        self,
        product: Product,
        metric: str,
        range_: str | None,
        start: datetime | None,
        end: datetime | None,
    ) -> HistoryRead:
        head, series = await self._cached(product, metric, range_, start, end)
        head.series = SERIES.validate_python(series)
        return head

    async def series_json(
        self,
        product: Product,
        metric: str,
        range_: str | None,
        start: datetime | None,
        end: datetime | None,
    ) -> bytes:
        """The same answer as ``series``, as the API's JSON body."""
        head, series = await self._cached(product, metric, range_, start, end)
        body = head.model_dump(mode="json")
        body["series"] = series  # keeps the field's place: the same bytes as ``series`` gives
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()

    async def csv(
        self, product: Product, range_: str | None, start: datetime | None, end: datetime | None
    ) -> str:
        start, end, _ = resolve_range(range_, start, end, datetime.now(UTC))
        rows = await self.snapshots.history_rows(product.id, start, end)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [
                "captured_at",
                "currency",
                "price",
                "buybox_price",
                "rating",
                "review_count",
                "in_stock",
                "main_category",
                "main_rank",
                "bsr",
            ]
        )
        for row in rows:
            bsr = row["bsr"] or []
            writer.writerow(
                [
                    row["captured_at"].isoformat(),
                    row["currency"] or "",
                    row["price"] if row["price"] is not None else "",
                    row["buybox_price"] if row["buybox_price"] is not None else "",
                    row["rating"] if row["rating"] is not None else "",
                    row["review_count"] if row["review_count"] is not None else "",
                    "" if row["in_stock"] is None else str(row["in_stock"]).lower(),
                    bsr[0]["category"] if bsr else "",
                    bsr[0]["rank"] if bsr else "",
                    json.dumps(bsr, ensure_ascii=False),
                ]
            )
        return out.getvalue()
