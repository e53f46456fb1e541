"""The product module's job names: defined once, used by its services, tasks and schedules."""

from __future__ import annotations

import uuid
from enum import StrEnum


class ProductJob(StrEnum):
    PLAN_CRAWLS = "product.plan_crawls"
    # A small planning pass over never-crawled products, asked for when a product is tracked.
    PLAN_FIRST_CRAWLS = "product.plan_first_crawls"
    CRAWL_BATCH = "product.crawl_batch"
    # The same batch crawl for a seller's on-demand refresh, served by the critical queue.
    REFRESH_BATCH = "product.refresh_batch"
    REFRESH_READ_MODELS = "product.refresh_read_models"
    RESEND_STALLED_BATCHES = "product.resend_stalled_batches"
    MAINTAIN_PARTITIONS = "product.maintain_partitions"


def first_crawls_job_id(window: int) -> str:
    """One first-crawl pass per time window: every product tracked in it shares one batch."""
    return f"{ProductJob.PLAN_FIRST_CRAWLS}:{window}"


def crawl_job_id(run_id: uuid.UUID, task: str = ProductJob.CRAWL_BATCH) -> str:
    return f"{task}:{run_id}"
