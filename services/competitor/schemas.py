"""Request and response types of the competitor module."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.competitor.comparison import Comparison
from services.competitor.report import PositioningReport
from services.core.pagination import PageParams

MIN_COMPETITORS = 3
MAX_COMPETITORS = 5

ReportStatus = Literal["queued", "refreshing_data", "analysing", "done", "failed"]
Reference = Field(min_length=10, max_length=2000, examples=["B0D2XRXNGY"])


class CompetitorGroupCreate(BaseModel):
    """A main product (one of the seller's trackings) and 3-5 competitors (ASINs or URLs in the
    main product's marketplace)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    main_tracked_product_id: uuid.UUID
    # The 3-5 bound is checked by the service, with a message that says which bound was missed.
    competitors: list[str] = Field(min_length=1, max_length=20)


class CompetitorGroupUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)


class MembersAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    competitors: list[str] = Field(min_length=1, max_length=5)


class MemberRead(BaseModel):
    tracked_product_id: uuid.UUID
    role: Literal["main", "competitor"]
    marketplace: str
    asin: str
    alias: str | None = None
    auto_tracked: bool = False
    is_active: bool = True
    as_of: datetime | None = None


class CompetitorGroupRead(BaseModel):
    id: uuid.UUID
    name: str
    marketplace: str
    main: MemberRead
    competitors: list[MemberRead]
    created_at: datetime
    updated_at: datetime
    latest_report_id: uuid.UUID | None = None
    latest_report_status: ReportStatus | None = None


class CompetitorGroupCreated(CompetitorGroupRead):
    # ASINs this group started tracking (in the competitor role; they count against the quota).
    auto_tracked: list[str]


class MemberFreshness(BaseModel):
    asin: str
    role: Literal["main", "competitor"]
    stale: bool
    as_of: datetime | None
    age_hours: Decimal | None
    refreshed: bool = False


class CompetitorGroupDetail(CompetitorGroupRead):
    """A group with its comparison computed now from the latest data."""

    comparison: Comparison
    freshness: list[MemberFreshness]


class ReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    force: bool = Field(default=False, description="Start another even while one is running")


class ReportAccepted(BaseModel):
    id: uuid.UUID
    status: ReportStatus
    deduplicated: bool = Field(description="True when a report already running was returned")


class ReportUsage(BaseModel):
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    from_cache: bool


class ReportSummary(BaseModel):
    """One line of a group's report history."""

    id: uuid.UUID
    group_id: uuid.UUID
    status: ReportStatus
    source: Literal["llm", "rule_based"] | None
    model: str | None
    prompt_version: str | None
    simulated: bool = Field(description="True when written by the bundled OpenAI stand-in")
    failure_reason: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    usage: ReportUsage


class ReportRead(ReportSummary):
    """A report: its status, which members were stale and how old their data is, the comparison,
    and the positioning report once done."""

    freshness: list[MemberFreshness]
    comparison: Comparison | None
    report: PositioningReport | None


class CompetitorGroupFilter(PageParams):
    """A page of the seller's competitor groups, newest first."""


class ReportFilter(PageParams):
    """A page of a group's positioning reports, newest first."""
