"""Monthly partitions of the snapshots table: created ahead, stray rows moved, old ones dropped."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text

from services.core.repository import Repository

logger = logging.getLogger(__name__)

PARENT = "snapshots"
DEFAULT_PARTITION = "snapshots_default"
_NAME = re.compile(r"^snapshots_p(\d{4})_(\d{2})$")


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"snapshots_p{month:%Y_%m}"


@dataclass
class PartitionReport:
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    moved_rows: int = 0


class PartitionManager(Repository):
    """DDL for the snapshots partitions. Runs inside the caller's transaction."""

    async def existing(self) -> list[str]:
        rows = await self.session.execute(
            text(
                "SELECT c.relname FROM pg_inherits i "
                "JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :parent"
            ),
            {"parent": PARENT},
        )
        return sorted(r[0] for r in rows)

    async def ensure_ahead(self, today: date, months_ahead: int) -> PartitionReport:
        """Create this month's partition and ``months_ahead`` more, rescuing stray default rows."""
        report = PartitionReport()
        existing = set(await self.existing())
        for offset in range(months_ahead + 1):
            start = add_months(month_start(today), offset)
            name = partition_name(start)
            if name not in existing:
                report.moved_rows += await self._create(name, start, add_months(start, 1))
                report.created.append(name)
        return report

    async def _create(self, name: str, start: date, end: date) -> int:
        # Rows of this month in the default partition would make a plain CREATE ... PARTITION OF
        # fail, so build the table, move them in, then attach it.
        bounds = {
            "start": datetime(start.year, start.month, 1, tzinfo=UTC),
            "end": datetime(end.year, end.month, 1, tzinfo=UTC),
        }
        await self.session.execute(
            text(f'CREATE TABLE "{name}" (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
        )
        moved = await self.session.execute(
            text(
                f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} "  # noqa: S608 - fixed names
                "WHERE captured_at >= CAST(:start AS timestamptz) "
                "AND captured_at < CAST(:end AS timestamptz) RETURNING *) "
                f'INSERT INTO "{name}" SELECT * FROM moved'
            ),
            bounds,
        )
        await self.session.execute(
            text(
                f'ALTER TABLE {PARENT} ATTACH PARTITION "{name}" '
                f"FOR VALUES FROM ('{start.isoformat()} 00:00:00+00') "
                f"TO ('{end.isoformat()} 00:00:00+00')"
            )
        )
        count = int(getattr(moved, "rowcount", 0) or 0)
        logger.info("snapshot partition created", extra={"partition": name, "moved_rows": count})
        return count

    async def drop_older_than(self, retention_days: int, now: datetime | None = None) -> list[str]:
        """Drop every monthly partition whose whole month is past the retention window."""
        cutoff = ((now or datetime.now(UTC)) - timedelta(days=retention_days)).date()
        dropped = []
        for name in await self.existing():
            match = _NAME.match(name)
            if match is None:
                continue
            start = date(int(match[1]), int(match[2]), 1)
            if add_months(start, 1) <= cutoff:
                await self.session.execute(text(f'DROP TABLE "{name}"'))
                dropped.append(name)
                logger.info("snapshot partition dropped", extra={"partition": name})
        return dropped
