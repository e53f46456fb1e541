"""The optimization module's service: listing score, suggestion runs, decisions, experiments.

Reads the product module only through ``ProductCatalog``; every id is checked against the seller.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from services.competitor.service import CompetitorService, member_data
from services.core.errors import Conflict, FieldError, InvalidInput, NotFound
from services.core.jobs import Queue
from services.core.settings import OptimizationSettings
from services.core.uow import UnitOfWork
from services.optimization import impact
from services.optimization.jobs import OptimizationJob
from services.optimization.keywords import competitor_keywords, missing_keywords
from services.optimization.llm_io import (
    ComponentIn,
    KeywordIn,
    LlmSuggestions,
    OptimizationInput,
    RuleSuggestionIn,
)
from services.optimization.models import Experiment, OptimizationRun, Suggestion
from services.optimization.repository import (
    ExperimentRepository,
    RunRepository,
    SuggestionRepository,
)
from services.optimization.rules import SuggestionDraft, rank, suggest
from services.optimization.schemas import (
    RULE_BASED_NOTE,
    ApplyRequest,
    ComponentRead,
    ExperimentFilter,
    ExperimentRead,
    RunAccepted,
    RunFilter,
    RunRead,
    RunSummary,
    ScoreRead,
    SuggestionRead,
    SuggestionStatus,
)
from services.optimization.score import (
    CompetitorFacts,
    ListingFacts,
    ListingScore,
    score_listing,
    title_limit,
)
from services.product.catalog import ProductCatalog
from services.product.schemas import ProductFacts

if TYPE_CHECKING:  # the OpenAI layer is loaded by jobs only, never by the gateway
    from services.llm import LlmResult


def run_job_id(run_id: uuid.UUID) -> str:
    return f"optimization:run:{run_id}"


def evaluate_job_id(experiment_id: uuid.UUID) -> str:
    return f"optimization:evaluate:{experiment_id}"


def score_read(score: ListingScore, as_of: datetime | None = None) -> ScoreRead:
    return ScoreRead(
        total=score.total,
        components=[
            ComponentRead(
                name=c.name,
                score=c.score,
                max=c.weight,
                applicable=c.applicable,
                checks=c.checks,
                raise_by=c.raise_by,
            )
            for c in score.components
        ],
        as_of=as_of,
    )


def _competitor(f: ProductFacts) -> CompetitorFacts:
    listing, latest = f.listing, f.latest
    return CompetitorFacts(
        asin=f.asin,
        title=listing.title if listing else None,
        bullets=tuple(listing.bullets) if listing else (),
        price=latest.price if latest else None,
        rating=latest.rating if latest else None,
        review_count=latest.review_count if latest else None,
        image_count=len(listing.images) if listing else 0,
        video_count=listing.video_count if listing else 0,
    )


def listing_facts(
    own: ProductFacts, competitors: list[ProductFacts], keyword_min_competitors: int
) -> ListingFacts:
    """The pure inputs of the score and the rules, from the product module's facts."""
    listing, latest = own.listing, own.latest
    comps = tuple(_competitor(c) for c in competitors)
    keywords = competitor_keywords(
        [[c.title or "", *c.bullets] for c in comps], keyword_min_competitors
    )
    return ListingFacts(
        marketplace=own.marketplace,
        asin=own.asin,
        title=listing.title if listing else None,
        brand=listing.brand if listing else None,
        bullets=tuple(listing.bullets) if listing else (),
        description=listing.description if listing else None,
        image_count=len(listing.images) if listing else 0,
        video_count=listing.video_count if listing else 0,
        price=latest.price if latest else None,
        currency=latest.currency if latest else None,
        rating=latest.rating if latest else None,
        review_count=latest.review_count if latest else None,
        competitors=comps,
        keywords=tuple(keywords),
    )


@dataclass
class PreparedRun:
    """What a run computed before asking the LLM (no database connection is held meanwhile)."""

    score: dict[str, Any]
    score_total: int
    drafts: list[SuggestionDraft]
    inputs: dict[str, Any]
    llm_input: OptimizationInput
    title_limit: int


def llm_drafts(
    result: LlmResult[LlmSuggestions], limit: int
) -> tuple[list[SuggestionDraft], list[str]]:
    """The LLM's suggestions as drafts; a title over the marketplace's limit is dropped."""
    assert result.output is not None
    drafts: list[SuggestionDraft] = []
    dropped: list[str] = []
    evidence = {
        "model": result.model,
        "prompt": f"{result.prompt_name}@{result.prompt_version}",
        "cached": result.cached,
    }
    for s in result.output.suggestions:
        change: dict[str, Any] = {"field": s.type, "proposed": s.proposed_change}
        if s.type == "title":
            if len(s.proposed_change) > limit:
                dropped.append(f"title of {len(s.proposed_change)} characters (limit {limit})")
                continue
            change |= {"length": len(s.proposed_change), "limit": limit}
        drafts.append(
            SuggestionDraft(
                type=s.type,
                summary=s.summary,
                proposed_change=change,
                reason=s.reason,
                evidence=evidence,
                expected_impact=min(25.0, max(0.0, s.expected_impact)),
                source="llm",
            )
        )
    return drafts, dropped


def _number(value: Any) -> float | None:
    """A proposed price: a number from the rules, free text (maybe a number) from the LLM."""
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip().lstrip("$€£¥").replace(",", ""))
    except ValueError:
        return None


class OptimizationService:
    """Score a seller's listing, run suggestions in the background, track applied changes."""

    def __init__(
        self,
        uow: UnitOfWork,
        settings: OptimizationSettings,
        products: ProductCatalog,
        *,
        llm_configured: bool = False,
        competitors: CompetitorService | None = None,
    ) -> None:
        self.uow = uow
        self.competitors = competitors
        self.competitor_source = "competitor-role trackings"
        self.settings = settings
        self.products = products
        self.llm_configured = llm_configured
        self.runs = RunRepository(uow.session)
        self.suggestions = SuggestionRepository(uow.session)
        self.experiments = ExperimentRepository(uow.session)

    # -- score -------------------------------------------------------------------------------

    async def _facts(
        self, user_id: uuid.UUID, tracking_id: uuid.UUID
    ) -> tuple[ProductFacts, list[ProductFacts], ListingFacts]:
        own = await self.products.product_facts(user_id, tracking_id)
        group = (
            await self.competitors.competitors_of(user_id, tracking_id)
            if self.competitors is not None
            else None
        )
        # The seller's competitor group for this product when there is one; otherwise every
        # product they track in the competitor role in the same marketplace.
        competitors = await self.products.competitor_facts(
            user_id, own.marketplace, own.product_id, only=group[1] if group else None
        )
        self.competitor_source = f"group {group[0]}" if group else "competitor-role trackings"
        facts = listing_facts(own, competitors, self.settings.keyword_min_competitors)
        return own, competitors, facts

    async def listing_score(self, user_id: uuid.UUID, tracking_id: uuid.UUID) -> ScoreRead:
        """The deterministic listing score of a tracked product, computed now."""
        own, _, facts = await self._facts(user_id, tracking_id)
        as_of = own.latest.captured_at if own.latest else None
        return score_read(score_listing(facts), as_of)

    # -- runs --------------------------------------------------------------------------------

    async def start_run(self, user_id: uuid.UUID, tracking_id: uuid.UUID) -> RunAccepted:
        """Queue a run on `low`; while one is queued or running for the product, that one is
        returned instead (deduplicated)."""
        own = await self.products.product_facts(user_id, tracking_id)
        active = await self.runs.active_for(tracking_id)
        if active is not None:
            stale_before = datetime.now(UTC) - timedelta(seconds=self.settings.run_stale_after_s)
            if active.created_at >= stale_before:
                return RunAccepted(run_id=active.id, status=active.status, deduplicated=True)
            # Its job was lost (queue purged, retries exhausted): it must not block forever.
            active.status = "failed"
            active.error = "abandoned: no worker finished it in time"
            active.finished_at = datetime.now(UTC)
            await self.uow.session.flush()
        run = OptimizationRun(
            user_id=user_id, tracked_product_id=tracking_id, product_id=own.product_id
        )
        try:
            async with self.uow.session.begin_nested():
                await self.runs.add(run)
        except IntegrityError:  # a concurrent request queued one first
            active = await self.runs.active_for(tracking_id)
            if active is None:
                raise
            return RunAccepted(run_id=active.id, status=active.status, deduplicated=True)
        self.uow.jobs.enqueue(
            OptimizationJob.RUN_OPTIMIZATION,
            queue=Queue.LOW,
            job_id=run_job_id(run.id),
            run_id=str(run.id),
        )
        return RunAccepted(run_id=run.id, status=run.status, deduplicated=False)

    async def prepare_run(self, run_id: uuid.UUID) -> PreparedRun | None:
        """Mark the run running and compute its score and rule suggestions; None when it has
        already finished (a job delivered twice)."""
        run = await self.runs.get(run_id, for_update=True)
        if run is None or run.status in ("done", "failed"):
            return None
        run.status = "running"
        run.started_at = run.started_at or datetime.now(UTC)
        own, competitors, facts = await self._facts(run.user_id, run.tracked_product_id)
        score = score_listing(facts)
        drafts = suggest(facts, score)
        missing = missing_keywords([facts.title or "", *facts.bullets], facts.keywords)
        inputs = {
            "listing_as_of": own.listing.captured_at.isoformat() if own.listing else None,
            "snapshot_as_of": own.latest.captured_at.isoformat() if own.latest else None,
            "competitor_source": self.competitor_source,
            "competitors": [
                {"asin": c.asin, "price": float(c.price) if c.price is not None else None}
                for c in facts.competitors
            ],
            "keywords": [asdict(k) for k in facts.keywords[:20]],
        }
        comparison = (
            CompetitorService.compare(
                [
                    member_data("main", own.asin, own.marketplace, own),
                    *(member_data("competitor", c.asin, c.marketplace, c) for c in competitors),
                ]
            ).model_dump(mode="json")
            if competitors
            else None
        )
        llm_input = OptimizationInput(
            marketplace=facts.marketplace,
            asin=facts.asin,
            title=facts.title,
            title_limit=title_limit(facts.marketplace),
            brand=facts.brand,
            bullets=list(facts.bullets),
            price=float(facts.price) if facts.price is not None else None,
            currency=facts.currency,
            score_total=score.total,
            components=[
                ComponentIn(name=c.name, score=c.score, max=c.weight, raise_by=c.raise_by)
                for c in score.components
                if c.applicable
            ],
            rule_suggestions=[
                RuleSuggestionIn(
                    type=d.type,
                    summary=d.summary,
                    reason=d.reason,
                    expected_impact=d.expected_impact,
                )
                for d in drafts
            ],
            missing_keywords=[
                KeywordIn(term=k.term, competitors=k.competitors) for k in missing[:10]
            ],
            competitors=len(facts.competitors),
            comparison=comparison,
        )
        return PreparedRun(
            score=score_read(score).model_dump(mode="json"),
            score_total=score.total,
            drafts=drafts,
            inputs=inputs,
            llm_input=llm_input,
            title_limit=title_limit(facts.marketplace),
        )

    async def finish_run(
        self,
        run_id: uuid.UUID,
        prepared: PreparedRun,
        llm: LlmResult[LlmSuggestions] | None = None,
    ) -> dict[str, Any]:
        """Write the ranked suggestions (rules, plus the LLM's when it answered) and finish."""
        run = await self.runs.get(run_id, for_update=True)
        if run is None or run.status in ("done", "failed"):
            return {"skipped": True}
        drafts = list(prepared.drafts)
        inputs = dict(prepared.inputs)
        if llm is not None:
            run.llm_model = llm.model
            run.prompt_version = f"{llm.prompt_name}@{llm.prompt_version}"
            run.llm_status = "cached" if llm.cached else llm.status
            run.input_tokens = llm.usage.input_tokens
            run.output_tokens = llm.usage.output_tokens
            run.cost_usd = llm.usage.cost_usd
            if llm.ok and llm.output is not None:
                added, dropped = llm_drafts(llm, prepared.title_limit)
                drafts = rank([*drafts, *added])
                if dropped:
                    inputs["llm_dropped"] = dropped
            else:
                inputs["llm_failure"] = llm.failure_reason
        await self.suggestions.add_many(
            [
                Suggestion(
                    run_id=run.id,
                    user_id=run.user_id,
                    tracked_product_id=run.tracked_product_id,
                    rank=i,
                    type=d.type,
                    summary=d.summary,
                    proposed_change=d.proposed_change,
                    reason=d.reason,
                    evidence=d.evidence,
                    expected_impact=Decimal(str(d.expected_impact)),
                    priority=d.priority,
                    source=d.source,
                )
                for i, d in enumerate(drafts, start=1)
            ]
        )
        run.score_total = prepared.score_total
        run.score = prepared.score
        run.inputs = inputs
        run.source = "llm" if any(d.source == "llm" for d in drafts) else "rules"
        run.status = "done"
        run.finished_at = datetime.now(UTC)
        return {"suggestions": len(drafts), "score": prepared.score_total, "source": run.source}

    async def fail_run(self, run_id: uuid.UUID, reason: str) -> None:
        run = await self.runs.get(run_id, for_update=True)
        if run is not None and run.status not in ("done", "failed"):
            run.status = "failed"
            run.error = reason[:2000]
            run.finished_at = datetime.now(UTC)

    def _note(self, run: OptimizationRun) -> str | None:
        if run.source == "llm":
            return None
        if not self.llm_configured or run.llm_status is None:
            return RULE_BASED_NOTE
        reason = (run.inputs or {}).get("llm_failure")
        return f"Suggestions are rule-based: the LLM did not answer for this run ({reason})."

    async def _run_read(self, run: OptimizationRun) -> RunRead:
        read = RunRead.model_validate(run)
        read.note = self._note(run) if run.status == "done" else None
        read.suggestions = [
            SuggestionRead.model_validate(s) for s in await self.suggestions.for_run(run.id)
        ]
        return read

    async def get_run(self, user_id: uuid.UUID, run_id: uuid.UUID) -> RunRead:
        """One run with its status, score and ranked suggestions."""
        run = await self.runs.get_for_user(user_id, run_id)
        if run is None:
            raise NotFound("No such optimization run")
        return await self._run_read(run)

    async def list_runs(
        self, user_id: uuid.UUID, tracking_id: uuid.UUID, filters: RunFilter
    ) -> tuple[list[RunSummary], int]:
        """One page of a tracked product's runs, newest first, and their total."""
        await self.products.product_facts(user_id, tracking_id)
        runs, total = await self.runs.list_for_tracking(
            user_id, tracking_id, filters.limit, filters.offset
        )
        return [RunSummary.model_validate(r) for r in runs], total

    async def latest_suggestions(
        self, user_id: uuid.UUID, tracking_id: uuid.UUID
    ) -> RunRead | None:
        """The newest finished run of a tracked product (None before the first one)."""
        await self.products.product_facts(user_id, tracking_id)
        run = await self.runs.latest_done(user_id, tracking_id)
        return await self._run_read(run) if run else None

    # -- decisions ---------------------------------------------------------------------------

    async def _own_suggestion(self, user_id: uuid.UUID, suggestion_id: uuid.UUID) -> Suggestion:
        suggestion = await self.suggestions.get_for_user(user_id, suggestion_id, for_update=True)
        if suggestion is None:
            raise NotFound("No such suggestion")
        return suggestion

    @staticmethod
    def _require(suggestion: Suggestion, allowed: tuple[str, ...], action: str) -> None:
        if suggestion.status not in allowed:
            raise Conflict(
                f"A suggestion that is {suggestion.status} cannot be {action}",
                code="suggestion_state",
            )

    async def accept(self, user_id: uuid.UUID, suggestion_id: uuid.UUID) -> SuggestionRead:
        """Accept an open suggestion (the seller plans to apply it)."""
        suggestion = await self._own_suggestion(user_id, suggestion_id)
        self._require(suggestion, ("open",), "accepted")
        suggestion.status = SuggestionStatus.ACCEPTED.value
        suggestion.decided_at = datetime.now(UTC)
        await self.uow.session.flush()
        return SuggestionRead.model_validate(suggestion)

    async def dismiss(
        self, user_id: uuid.UUID, suggestion_id: uuid.UUID, reason: str
    ) -> SuggestionRead:
        """Dismiss an open or accepted suggestion, with the seller's reason."""
        if not reason.strip():
            raise InvalidInput(
                "Say why the suggestion is dismissed",
                field_errors=[FieldError("reason", "must not be blank")],
            )
        suggestion = await self._own_suggestion(user_id, suggestion_id)
        self._require(suggestion, ("open", "accepted"), "dismissed")
        suggestion.status = SuggestionStatus.DISMISSED.value
        suggestion.dismiss_reason = reason.strip()
        suggestion.decided_at = datetime.now(UTC)
        await self.uow.session.flush()
        return SuggestionRead.model_validate(suggestion)

    def _live_at(self, value: datetime | None, now: datetime) -> datetime:
        if value is None:
            return now
        if value.tzinfo is None:
            raise InvalidInput(
                "Give live_at with a timezone", field_errors=[FieldError("live_at", "naive")]
            )
        if value > now + timedelta(minutes=5):
            raise InvalidInput(
                "live_at cannot be in the future: mark the change applied once it is live",
                field_errors=[FieldError("live_at", "in the future")],
            )
        if value < now - timedelta(days=self.settings.max_backdate_days):
            raise InvalidInput(
                f"live_at is more than {self.settings.max_backdate_days} days ago",
                field_errors=[FieldError("live_at", "too far back")],
            )
        return value

    async def apply(
        self, user_id: uuid.UUID, suggestion_id: uuid.UUID, data: ApplyRequest
    ) -> ExperimentRead:
        """Mark a suggestion applied and start its experiment: the baseline window before the
        change is recorded now, the measurement window after it is evaluated by the scheduler."""
        now = datetime.now(UTC)
        live_at = self._live_at(data.live_at, now)
        suggestion = await self._own_suggestion(user_id, suggestion_id)
        self._require(suggestion, ("open", "accepted"), "applied")
        baseline_days = data.baseline_days or self.settings.baseline_days
        measure_days = data.measure_days or self.settings.measure_days
        baseline_start = live_at - timedelta(days=baseline_days)
        rows = await self.products.metric_rows(
            user_id, suggestion.tracked_product_id, baseline_start, live_at
        )
        own = await self.products.product_facts(user_id, suggestion.tracked_product_id)
        suggestion.status = SuggestionStatus.APPLIED.value
        suggestion.decided_at = now
        experiment = await self.experiments.add(
            Experiment(
                user_id=user_id,
                tracked_product_id=suggestion.tracked_product_id,
                product_id=own.product_id,
                suggestion_id=suggestion.id,
                suggestion_type=suggestion.type,
                live_at=live_at,
                baseline_start=baseline_start,
                measure_end=live_at + timedelta(days=measure_days),
                baseline={
                    "days": baseline_days,
                    "measure_days": measure_days,
                    **impact.baseline_summary(rows, min_days=self.settings.min_days),
                },
            )
        )
        return await self._experiment_read(experiment)

    # -- experiments -------------------------------------------------------------------------

    async def _experiment_read(
        self, experiment: Experiment, summaries: dict[uuid.UUID, str] | None = None
    ) -> ExperimentRead:
        overlaps = await self.experiments.overlapping(experiment)
        if summaries is None:
            summaries = await self.suggestions.summaries([experiment.suggestion_id])
        return ExperimentRead(
            id=experiment.id,
            tracked_product_id=experiment.tracked_product_id,
            suggestion_id=experiment.suggestion_id,
            suggestion_type=experiment.suggestion_type,
            suggestion_summary=summaries.get(experiment.suggestion_id),
            status=experiment.status,
            live_at=experiment.live_at,
            baseline_start=experiment.baseline_start,
            measure_end=experiment.measure_end,
            baseline=experiment.baseline,
            result=experiment.result,
            verdict=experiment.verdict,
            method=experiment.method,
            evaluated_at=experiment.evaluated_at,
            overlapping_experiment_ids=overlaps,
            overlap_warning=(
                f"{len(overlaps)} other change(s) on this product overlap this experiment's "
                "windows: their effects cannot be told apart"
                if overlaps
                else None
            ),
        )

    async def list_experiments(
        self, user_id: uuid.UUID, filters: ExperimentFilter
    ) -> tuple[list[ExperimentRead], int]:
        """One page of running and finished experiments, newest change first, and their total."""
        if filters.tracked_product_id is not None:
            await self.products.product_facts(user_id, filters.tracked_product_id)
        rows, total = await self.experiments.list_for_user(
            user_id,
            status=filters.status,
            tracked_product_id=filters.tracked_product_id,
            limit=filters.limit,
            offset=filters.offset,
        )
        summaries = await self.suggestions.summaries([e.suggestion_id for e in rows])
        return [await self._experiment_read(e, summaries) for e in rows], total

    async def get_experiment(self, user_id: uuid.UUID, experiment_id: uuid.UUID) -> ExperimentRead:
        experiment = await self.experiments.get_for_user(user_id, experiment_id)
        if experiment is None:
            raise NotFound("No such experiment")
        return await self._experiment_read(experiment)

    async def enqueue_due_evaluations(self, now: datetime | None = None) -> int:
        """Ask for one evaluation job per experiment past its measurement window."""
        due = await self.experiments.due_ids(now or datetime.now(UTC), limit=500)
        for experiment_id in due:
            self.uow.jobs.enqueue(
                OptimizationJob.EVALUATE_EXPERIMENT,
                queue=Queue.LOW,
                job_id=evaluate_job_id(experiment_id),
                experiment_id=str(experiment_id),
            )
        return len(due)

    async def evaluate(self, experiment_id: uuid.UUID) -> str | None:
        """Compare the windows before and after the change and store the verdict; an experiment
        already evaluated, or whose window has not ended, is left as it is."""
        experiment = await self.experiments.get(experiment_id, for_update=True)
        if experiment is None or experiment.status == "evaluated":
            return None
        if experiment.measure_end > datetime.now(UTC):
            return None
        try:
            before = await self.products.metric_rows(
                experiment.user_id,
                experiment.tracked_product_id,
                experiment.baseline_start,
                experiment.live_at,
            )
            after = await self.products.metric_rows(
                experiment.user_id,
                experiment.tracked_product_id,
                experiment.live_at,
                experiment.measure_end,
            )
        except NotFound:  # the seller stopped and removed the tracking meanwhile
            before, after = [], []
        proposed_price = None
        if experiment.suggestion_type == "pricing":
            suggestion = await self.suggestions.get_for_user(
                experiment.user_id, experiment.suggestion_id
            )
            if suggestion is not None:
                proposed_price = _number(suggestion.proposed_change.get("proposed"))
        result = impact.evaluate(
            before,
            after,
            min_days=self.settings.min_days,
            proposed_price=proposed_price,
        )
        await self.experiments.mark_evaluated(
            experiment.id,
            status="evaluated",
            result=result,
            verdict=result["verdict"],
            method=result["method"],
            evaluated_at=datetime.now(UTC),
        )
        return str(result["verdict"])
