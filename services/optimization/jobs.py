"""The optimization module's job names: defined once, used by its services, tasks and schedules."""

from __future__ import annotations

from enum import StrEnum


class OptimizationJob(StrEnum):
    RUN_OPTIMIZATION = "optimization.run_optimization"
    EVALUATE_EXPERIMENT = "optimization.evaluate_experiment"
    EVALUATE_DUE_EXPERIMENTS = "optimization.evaluate_due_experiments"
