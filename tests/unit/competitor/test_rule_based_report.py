"""The rule-based positioning report, built from the comparison alone."""

from __future__ import annotations

from decimal import Decimal

from services.competitor.comparison import compare
from services.competitor.prompts import POSITIONING_PROMPT
from services.competitor.report import PositioningReport, rule_based_report
from tests.unit.competitor.test_comparison import group, member


def test_report_cites_the_comparison_and_orders_recommendations() -> None:
    comparison = compare(group())

    report = rule_based_report(comparison)

    assert 3 <= len(report.recommendations) <= 8
    assert [r.priority for r in report.recommendations] == list(
        range(1, len(report.recommendations) + 1)
    )
    text = " ".join(r.rationale for r in report.recommendations)
    assert "30.00" in text  # the competitor median
    assert "long battery" in text  # a claim the main product lacks
    assert str(comparison.bsr.main_rank) in report.summary


def test_a_dear_main_product_gets_a_price_recommendation_first() -> None:
    members = group()
    members[0] = members[0].model_copy(update={"price": Decimal("45.00")})

    report = rule_based_report(compare(members))

    first = report.recommendations[0]
    assert "price" in first.action.lower() and "50.00% above" in first.rationale


def test_even_a_thin_group_gets_three_recommendations() -> None:
    thin = [
        member("MAIN000001", "main", bullets=[], title=None, bsr=[]),
        *(member(f"COMP00000{i}", found=False, price=None, bsr=[]) for i in range(3)),
    ]

    report = rule_based_report(compare(thin))

    assert len(report.recommendations) == 3 and report.strengths


def test_llm_output_is_shown_in_priority_order() -> None:
    rec = {"action": "a", "rationale": "r", "expected_impact": "e", "impact": "low"}
    report = PositioningReport.model_validate(
        {
            "summary": "s",
            "strengths": ["x"],
            "weaknesses": ["x"],
            "opportunities": ["x"],
            "threats": ["x"],
            "recommendations": [{**rec, "priority": p} for p in (3, 1, 2)],
        }
    )

    assert [r.priority for r in report.recommendations] == [1, 2, 3]
    schema = POSITIONING_PROMPT.response_format()["json_schema"]
    assert schema["strict"] is True and schema["name"] == "competitor_positioning"
