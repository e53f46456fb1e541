"""Imports every module's models so the metadata (and Alembic) sees all tables."""

from __future__ import annotations


def import_all_models() -> None:
    import services.admin.models
    import services.alerts.models
    import services.auth.models
    import services.competitor.models
    import services.core.models
    import services.llm.models
    import services.optimization.models
    import services.product.models  # noqa: F401
