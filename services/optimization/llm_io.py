"""What goes to the LLM and what comes back: typed input and output of the optimization prompt
(plain pydantic models, so the gateway can read stored results without loading the OpenAI layer)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ComponentIn(BaseModel):
    name: str
    score: float
    max: int
    raise_by: list[str]


class RuleSuggestionIn(BaseModel):
    type: str
    summary: str
    reason: str
    expected_impact: float


class KeywordIn(BaseModel):
    term: str
    competitors: int


class OptimizationInput(BaseModel):
    marketplace: str
    asin: str
    title: str | None
    title_limit: int
    brand: str | None
    bullets: list[str]
    price: float | None
    currency: str | None
    score_total: int
    components: list[ComponentIn]
    rule_suggestions: list[RuleSuggestionIn]
    missing_keywords: list[KeywordIn]
    competitors: int
    # The competitor module's deterministic comparison (price position, BSR, reviews, features).
    comparison: dict[str, Any] | None


class LlmSuggestion(BaseModel):
    type: Literal["title", "pricing", "bullets", "images", "keywords"]
    summary: str = Field(description="One line: the change")
    proposed_change: str = Field(
        description="The concrete new text or value (for a title: the whole new title)"
    )
    reason: str = Field(description="Why, citing figures from the input")
    expected_impact: float = Field(ge=0, le=25, description="Listing-score points it would add")
    priority: Literal["high", "medium", "low"]


class LlmSuggestions(BaseModel):
    suggestions: list[LlmSuggestion] = Field(min_length=1, max_length=6)
