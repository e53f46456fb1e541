"""The versioned LLM prompt of the positioning report (only jobs import this: the gateway never
loads the OpenAI layer)."""

from __future__ import annotations

from services.competitor.comparison import Comparison
from services.competitor.report import PositioningReport
from services.llm import Prompt

POSITIONING_PROMPT: Prompt[Comparison, PositioningReport] = Prompt(
    name="competitor.positioning",
    version="1",
    system=(
        "You are an Amazon marketplace analyst. You write positioning reports for a seller "
        "from a deterministic comparison of their product (the main product) with 3 to 5 "
        "competitors. Use only the figures in the comparison; never invent numbers, products "
        "or facts. Prices are in the comparison's currency."
    ),
    instructions=(
        "Write the seller's positioning report: a short summary; strengths, weaknesses, "
        "opportunities and threats (each a list of short statements); and 3 to 8 "
        "recommendations ordered by priority (1 first). Every recommendation's rationale must "
        "cite the comparison's numbers (price gaps, rank and percentile, median, BSR gaps in "
        "the shared category, ratings, review counts and velocity, listing completeness, "
        "feature claims), and say its expected impact."
    ),
    input_model=Comparison,
    output_model=PositioningReport,
)
