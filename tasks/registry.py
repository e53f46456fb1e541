"""Every task of every module, in one list the workers register."""

from __future__ import annotations

from tasks import alerts, auth, product
from tasks.runtime import TaskDef

ALL_TASKS: list[TaskDef] = [
    auth.purge_expired_tokens,
    product.plan_crawls,
    product.crawl_batch,
    product.refresh_batch,
    product.maintain_partitions,
    product.refresh_read_models,
    product.resend_jobs,
    alerts.detect_changes,
    alerts.deliver,
    alerts.send_digests,
]
