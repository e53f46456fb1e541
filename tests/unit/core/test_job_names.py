"""Job names are defined once per module (services/<module>/jobs.py) and every one of them is a
task the worker registers, and the other way round; schedules and hooks name registered tasks."""

from __future__ import annotations

import importlib
import pkgutil
from enum import StrEnum

import services
from scheduler.cron import schedules
from services.core.settings import Settings
from tasks.registry import ALL_TASKS, hooks


def _job_enums() -> list[type[StrEnum]]:
    found = []
    for module in pkgutil.iter_modules(services.__path__):
        if module.name == "core":  # queues and hooks, not job names
            continue
        try:
            jobs = importlib.import_module(f"services.{module.name}.jobs")
        except ModuleNotFoundError:
            continue
        found += [
            v
            for v in vars(jobs).values()
            if isinstance(v, type) and issubclass(v, StrEnum) and v.__module__ == jobs.__name__
        ]
    return found


def test_every_defined_job_name_is_a_registered_task_and_back() -> None:
    defined = [member.value for enum in _job_enums() for member in enum]
    registered = [t.name for t in ALL_TASKS]
    assert len(defined) == len(set(defined))
    # A name is registered once per queue (a probe exists on every queue, nothing else twice).
    on_queues = [(t.name, t.queue) for t in ALL_TASKS]
    assert len(on_queues) == len(set(on_queues))
    assert sorted(defined) == sorted(set(registered))


def test_job_names_are_module_dot_verb_noun() -> None:
    for enum in _job_enums():
        module = enum.__module__.split(".")[1]
        for member in enum:
            prefix, _, name = member.value.partition(".")
            assert prefix == module and name.islower(), member.value


def test_schedules_and_hooks_name_registered_tasks() -> None:
    registered = {t.name for t in ALL_TASKS}
    assert {s.function for s in schedules(Settings())} <= registered
    for followers in hooks(ALL_TASKS).values():
        assert {name for name, _ in followers} <= registered
