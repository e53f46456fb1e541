"""The alerts module's job names: defined once, used by its services, tasks and schedules."""

from __future__ import annotations

import uuid
from enum import StrEnum


class AlertJob(StrEnum):
    DETECT_CHANGES = "alerts.detect_changes"
    DELIVER = "alerts.deliver"
    SEND_DIGESTS = "alerts.send_digests"


def deliver_job_id(delivery_id: uuid.UUID) -> str:
    return f"{AlertJob.DELIVER}:{delivery_id}"
