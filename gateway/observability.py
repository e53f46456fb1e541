"""HTTP metrics (Litestar's Prometheus plugin, route templates only) and the /metrics route."""

from __future__ import annotations

import logging

from litestar import Response, get
from litestar.datastructures import State
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

from gateway.dependencies import resources
from services.admin.queues import refresh_admin_gauges
from services.core.queue_stats import refresh_queue_gauges

logger = logging.getLogger(__name__)

prometheus_config = PrometheusConfig(
    app_name="shelfwatch",
    prefix="shelfwatch_http",
    # Label by route template ("/api/v1/products/{id}"), never by raw path.
    group_path=True,
    exclude=["/metrics"],
)


class MetricsController(PrometheusController):
    """Prometheus scrape endpoint; queue gauges are read fresh from Redis on each scrape."""

    @get(include_in_schema=False)
    async def get(self, state: State) -> Response[bytes]:
        try:
            await refresh_queue_gauges(resources(state).redis)
            await refresh_admin_gauges(resources(state).redis)
        except Exception:  # a scrape must still answer when Redis is away
            logger.warning("queue gauges not refreshed", exc_info=True)
        return await super().get.fn(self)  # type: ignore[no-any-return]
