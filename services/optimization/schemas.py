"""Request and response types of the optimization module."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.core.pagination import MAX_PAGE_SIZE, PageParams

RULE_BASED_NOTE = (
    "Suggestions are rule-based: no OpenAI API key is configured, so no LLM was asked."
)


class SuggestionType(StrEnum):
    TITLE = "title"
    PRICING = "pricing"
    BULLETS = "bullets"
    IMAGES = "images"
    KEYWORDS = "keywords"


class ExperimentStatus(StrEnum):
    RUNNING = "running"
    EVALUATED = "evaluated"


class SuggestionStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DISMISSED = "dismissed"
    APPLIED = "applied"


class Verdict(StrEnum):
    IMPROVED = "improved"
    WORSE = "worse"
    NO_CLEAR_CHANGE = "no_clear_change"
    INSUFFICIENT_DATA = "insufficient_data"


class ComponentRead(BaseModel):
    name: str
    score: float
    max: int
    applicable: bool
    checks: dict[str, float]
    raise_by: list[str] = Field(description="The concrete changes that would raise this score")


class ScoreRead(BaseModel):
    total: int = Field(ge=0, le=100)
    components: list[ComponentRead]
    as_of: datetime | None = Field(default=None, description="When the scored data was captured")


class RunCreate(BaseModel):
    """Start an optimization run (no body needed)."""

    model_config = ConfigDict(extra="forbid")


class RunAccepted(BaseModel):
    run_id: uuid.UUID
    status: str
    deduplicated: bool = Field(description="True when a run for this product was already going")


class SuggestionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    run_id: uuid.UUID
    tracked_product_id: uuid.UUID
    rank: int
    type: SuggestionType
    summary: str
    proposed_change: dict[str, Any]
    reason: str
    evidence: dict[str, Any]
    expected_impact: Decimal = Field(description="Listing-score points the change should add")
    priority: str
    source: str
    status: SuggestionStatus
    dismiss_reason: str | None
    decided_at: datetime | None
    created_at: datetime


class RunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    tracked_product_id: uuid.UUID
    status: str
    error: str | None
    source: str | None = Field(description="rules, or llm when the LLM added suggestions")
    note: str | None = None
    llm_model: str | None
    prompt_version: str | None
    llm_status: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: Decimal | None
    score_total: int | None
    score: dict[str, Any] | None
    inputs: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    suggestions: list[SuggestionRead] = Field(default_factory=list)


class RunSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    tracked_product_id: uuid.UUID
    status: str
    source: str | None
    score_total: int | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class DismissRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class ApplyRequest(BaseModel):
    """Mark a suggestion applied; the experiment measures it from ``live_at``."""

    model_config = ConfigDict(extra="forbid")

    live_at: datetime | None = Field(default=None, description="When it went live; default now")
    baseline_days: int | None = Field(default=None, ge=3, le=90)
    measure_days: int | None = Field(default=None, ge=3, le=90)


class ExperimentRead(BaseModel):
    id: uuid.UUID
    tracked_product_id: uuid.UUID
    suggestion_id: uuid.UUID
    suggestion_type: str
    suggestion_summary: str | None = None
    status: str = Field(description="running until the measurement window ends, then evaluated")
    live_at: datetime
    baseline_start: datetime
    measure_end: datetime
    baseline: dict[str, Any]
    result: dict[str, Any] | None
    verdict: Verdict | None
    method: str | None
    evaluated_at: datetime | None
    overlapping_experiment_ids: list[uuid.UUID] = Field(default_factory=list)
    overlap_warning: str | None = None


class RunFilter(PageParams):
    """A page of a tracked product's optimization runs, newest first."""

    limit: int = Field(default=20, ge=1, le=MAX_PAGE_SIZE)


class ExperimentFilter(PageParams):
    """Which of the seller's experiments to list, newest change first."""

    status: ExperimentStatus | None = None
    tracked_product_id: uuid.UUID | None = None
