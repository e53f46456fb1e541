"""One optimization run end to end: compute, ask the LLM (outside any transaction), write."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from services.core.errors import TransientError
from services.core.uow import UnitOfWork
from services.llm import LlmService
from services.optimization.prompts import SUGGESTIONS_PROMPT
from services.optimization.service import OptimizationService

logger = logging.getLogger(__name__)

UnitOfWorkFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]


class OptimizationRunner:
    """Runs one queued optimization run; safe to run twice (a finished run is left alone)."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        service_for: Callable[[UnitOfWork], OptimizationService],
        llm: LlmService | None,
    ) -> None:
        self.unit_of_work = unit_of_work
        self.service_for = service_for
        self.llm = llm

    async def run(self, run_id: uuid.UUID) -> dict[str, Any]:
        try:
            async with self.unit_of_work() as uow:
                prepared = await self.service_for(uow).prepare_run(run_id)
            if prepared is None:
                return {"skipped": True}
            result = None
            if self.llm is not None and self.llm.enabled:
                # Cached results cost nothing; API trouble comes back as a failed result and
                # the run still answers with the rules.
                result = await self.llm.complete(SUGGESTIONS_PROMPT, prepared.llm_input)
            async with self.unit_of_work() as uow:
                return await self.service_for(uow).finish_run(run_id, prepared, result)
        except TransientError:
            raise  # the task runtime retries with backoff
        except Exception as exc:
            logger.exception("optimization run failed", extra={"run_id": str(run_id)})
            async with self.unit_of_work() as uow:
                await self.service_for(uow).fail_run(run_id, f"{type(exc).__name__}: {exc}")
            return {"failed": str(exc)}
