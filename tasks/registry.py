"""Every task of every module, in one list the workers register."""

from __future__ import annotations

from tasks import auth
from tasks.runtime import TaskDef

ALL_TASKS: list[TaskDef] = [
    auth.purge_expired_tokens,
]
