"""``await llm.complete(prompt, input)``: cached, retried, repaired, validated, and paid for.

Only jobs call this (never an HTTP request). Each step runs in its own short transaction so no
database connection is held while the API thinks.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, Literal, cast

import openai
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.core.metrics import LLM_CACHE_HITS, LLM_CALLS, LLM_COST, LLM_FAILURES, LLM_TOKENS
from services.core.uow import UnitOfWork
from services.llm.client import OpenAIConnector
from services.llm.models import LlmCachedResult, LlmCall
from services.llm.prompts import InT, OutT, Prompt
from services.llm.repository import LlmRepository

FRONT_PREFIX = "llm:result:"
FRONT_TTL_S = 24 * 3600

logger = logging.getLogger(__name__)

UnitOfWorkFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]
Outcome = Literal["ok", "invalid", "refused", "error", "timeout"]

REPAIR_INSTRUCTION = (
    "Your previous answer could not be used: {problem}. Answer again with one JSON object that "
    "matches the response schema exactly, using only figures from the input."
)
_MICRO = Decimal("0.000001")


@dataclass
class Usage:
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal("0")

    def add(self, other: Usage) -> None:
        self.input_tokens += other.input_tokens
        self.cached_input_tokens += other.cached_input_tokens
        self.output_tokens += other.output_tokens
        self.cost_usd += other.cost_usd


@dataclass
class LlmResult(Generic[OutT]):
    """What one ``complete`` gave: the validated output or the reason it failed, and what it
    cost this time (nothing when served from the cache)."""

    status: Literal["ok", "failed"]
    prompt_name: str
    prompt_version: str
    model: str
    cache_key: str
    output: OutT | None = None
    failure_reason: str | None = None
    cached: bool = False
    api_calls: int = 0
    usage: Usage = field(default_factory=Usage)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class _Attempt:
    outcome: Outcome
    reason: str | None
    usage: Usage
    duration_ms: int
    content: str | None = None
    parsed: Any = None


class LlmService:
    """The shared OpenAI layer: nothing module-specific lives here."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        gateway: OpenAIConnector,
        redis: Redis | None = None,
    ) -> None:
        self.unit_of_work = unit_of_work
        self.gateway = gateway
        self.redis = redis

    @property
    def enabled(self) -> bool:
        return self.gateway.enabled

    @property
    def model(self) -> str:
        return self.gateway.model

    async def cached(self, prompt: Prompt[InT, OutT], data: InT) -> LlmResult[OutT] | None:
        """The stored result for this input, or None (never calls the API)."""
        key = prompt.cache_key(self.model, data)
        stored = await self._front_get(key)
        if stored is None:
            async with self.unit_of_work() as uow:
                entry = await LlmRepository(uow.session).cached(key)
            if entry is None:
                return None
            stored = {"model": entry.model, "output": entry.output}
            await self._front_set(key, stored)
        try:
            output = prompt.output_model.model_validate(stored["output"])
        except ValidationError:  # stored under the same version, so only a manual edit
            logger.warning("cached LLM result no longer validates", extra={"key": key})
            return None
        LLM_CACHE_HITS.labels(prompt.name).inc()
        return LlmResult(
            status="ok",
            prompt_name=prompt.name,
            prompt_version=prompt.version,
            model=str(stored["model"]),
            cache_key=key,
            output=output,
            cached=True,
        )

    # PostgreSQL keeps every result; Redis answers repeats in one round trip instead of a
    # pool checkout, BEGIN, SELECT and COMMIT. An entry never changes (its key hashes the
    # model, prompt version and input), so the copy needs no invalidation, only a TTL to
    # bound its memory; Redis trouble falls back to PostgreSQL.

    async def _front_get(self, key: str) -> dict[str, Any] | None:
        if self.redis is None:
            return None
        try:
            raw = await self.redis.get(FRONT_PREFIX + key)
        except (RedisError, OSError):
            return None
        return cast("dict[str, Any]", json.loads(raw)) if raw else None

    async def _front_set(self, key: str, stored: dict[str, Any]) -> None:
        if self.redis is None:
            return
        with contextlib.suppress(RedisError, OSError):
            await self.redis.set(FRONT_PREFIX + key, json.dumps(stored), ex=FRONT_TTL_S)

    async def complete(self, prompt: Prompt[InT, OutT], data: InT) -> LlmResult[OutT]:
        """The prompt's answer for ``data``: from the cache, else from the API with one repair
        attempt on invalid or refused output. Never raises for API trouble: a failed result
        carries the reason."""
        hit = await self.cached(prompt, data)
        if hit is not None:
            return hit
        model = self.model
        key = prompt.cache_key(model, data)
        result: LlmResult[OutT] = LlmResult(
            status="failed",
            prompt_name=prompt.name,
            prompt_version=prompt.version,
            model=model,
            cache_key=key,
        )
        if not self.enabled:
            result.failure_reason = "not_configured: no OpenAI API key is set"
            LLM_FAILURES.labels(prompt.name, "not_configured").inc()
            return result
        messages: list[dict[str, Any]] = prompt.messages(data)
        attempts: list[_Attempt] = []
        for attempt_no in (1, 2):
            attempt = await self._ask(prompt, model, messages)
            attempts.append(attempt)
            result.usage.add(attempt.usage)
            if attempt.outcome == "ok":
                result.status = "ok"
                result.output = attempt.parsed
                break
            if attempt.outcome not in ("invalid", "refused") or attempt_no == 2:
                break
            # One repair: show the model its answer and what was wrong with it.
            messages = [
                *messages,
                {"role": "assistant", "content": attempt.content or ""},
                {"role": "user", "content": REPAIR_INSTRUCTION.format(problem=attempt.reason)},
            ]
        result.api_calls = len(attempts)
        last = attempts[-1]
        if result.status != "ok":
            result.failure_reason = f"{last.outcome}: {last.reason}"
            LLM_FAILURES.labels(prompt.name, last.outcome).inc()
        await self._record(prompt, model, key, attempts, result)
        return result

    async def _ask(
        self, prompt: Prompt[InT, OutT], model: str, messages: list[dict[str, Any]]
    ) -> _Attempt:
        settings = self.gateway.settings
        started = time.perf_counter()

        def elapsed() -> int:
            return int((time.perf_counter() - started) * 1000)

        try:
            # Messages and schema are plain dicts (the wire format); the SDK wants TypedDicts.
            completion = await self.gateway.client().chat.completions.create(  # type: ignore[call-overload]
                model=model,
                messages=messages,
                response_format=prompt.response_format(),
                temperature=settings.temperature,
                max_completion_tokens=settings.max_output_tokens,
            )
        except openai.APITimeoutError:
            attempt = _Attempt(
                "timeout",
                f"no answer within {settings.timeout_s:g} s after {settings.max_retries} retries",
                Usage(),
                elapsed(),
            )
            LLM_CALLS.labels(prompt.name, model, attempt.outcome).inc()
            return attempt
        except openai.APIStatusError as exc:
            attempt = _Attempt(
                "error", f"HTTP {exc.status_code} from the API ({_short(exc)})", Usage(), elapsed()
            )
            LLM_CALLS.labels(prompt.name, model, attempt.outcome).inc()
            return attempt
        except openai.APIError as exc:  # connection refused, bad JSON envelope, ...
            attempt = _Attempt("error", f"{type(exc).__name__}: {_short(exc)}", Usage(), elapsed())
            LLM_CALLS.labels(prompt.name, model, attempt.outcome).inc()
            return attempt
        usage = self._usage(prompt.name, completion.model or model, completion.usage)
        attempt = self._judge(prompt, completion, usage, elapsed())
        LLM_CALLS.labels(prompt.name, model, attempt.outcome).inc()
        return attempt

    def _judge(
        self, prompt: Prompt[InT, OutT], completion: Any, usage: Usage, duration_ms: int
    ) -> _Attempt:
        if not completion.choices:
            return _Attempt("invalid", "the answer had no choices", usage, duration_ms)
        choice = completion.choices[0]
        message = choice.message
        if getattr(message, "refusal", None):
            return _Attempt("refused", f"the model refused: {message.refusal}", usage, duration_ms)
        content = message.content or ""
        if choice.finish_reason == "length":
            return _Attempt(
                "invalid", "the answer was cut at the token limit", usage, duration_ms, content
            )
        try:
            parsed = prompt.output_model.model_validate_json(content)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in exc.errors()[:5]
            )
            return _Attempt("invalid", f"schema mismatch ({problems})", usage, duration_ms, content)
        return _Attempt("ok", None, usage, duration_ms, content, parsed)

    def _usage(self, prompt_name: str, model: str, raw: Any) -> Usage:
        if raw is None:
            return Usage()
        details = getattr(raw, "prompt_tokens_details", None)
        cached = int(getattr(details, "cached_tokens", 0) or 0)
        usage = Usage(
            input_tokens=int(raw.prompt_tokens or 0),
            cached_input_tokens=cached,
            output_tokens=int(raw.completion_tokens or 0),
        )
        price = self.gateway.price(model)
        if price is None:
            logger.warning(
                "no price configured for model; cost recorded as 0", extra={"model": model}
            )
        else:
            fresh = max(0, usage.input_tokens - cached)
            usd = (
                fresh * price.input
                + cached * price.cached_input
                + usage.output_tokens * price.output
            ) / 1_000_000
            usage.cost_usd = Decimal(str(usd)).quantize(_MICRO)
        LLM_TOKENS.labels(prompt_name, model, "input").inc(usage.input_tokens)
        LLM_TOKENS.labels(prompt_name, model, "cached_input").inc(cached)
        LLM_TOKENS.labels(prompt_name, model, "output").inc(usage.output_tokens)
        LLM_COST.labels(prompt_name, model).inc(float(usage.cost_usd))
        return usage

    async def _record(
        self,
        prompt: Prompt[InT, OutT],
        model: str,
        key: str,
        attempts: list[_Attempt],
        result: LlmResult[OutT],
    ) -> None:
        async with self.unit_of_work() as uow:
            repo = LlmRepository(uow.session)
            await repo.record_calls(
                [
                    LlmCall(
                        cache_key=key,
                        prompt_name=prompt.name,
                        prompt_version=prompt.version,
                        model=model,
                        outcome=a.outcome,
                        reason=a.reason,
                        input_tokens=a.usage.input_tokens,
                        cached_input_tokens=a.usage.cached_input_tokens,
                        output_tokens=a.usage.output_tokens,
                        cost_usd=a.usage.cost_usd,
                        duration_ms=a.duration_ms,
                    )
                    for a in attempts
                ]
            )
            if result.ok and result.output is not None:
                # Not copied to Redis here: the first lookup after the commit copies what
                # PostgreSQL kept (the first writer's result when two jobs raced).
                await repo.store(
                    LlmCachedResult(
                        cache_key=key,
                        prompt_name=prompt.name,
                        prompt_version=prompt.version,
                        model=model,
                        output=result.output.model_dump(mode="json"),
                        input_tokens=result.usage.input_tokens,
                        cached_input_tokens=result.usage.cached_input_tokens,
                        output_tokens=result.usage.output_tokens,
                        cost_usd=result.usage.cost_usd,
                    )
                )


def _short(exc: Exception) -> str:
    text = str(exc).replace("\n", " ")
    return text if len(text) <= 200 else text[:197] + "..."
