"""Pure logic of the foundation: settings validation, retry backoff, queue capacities, cron ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from arq import Retry
from pydantic import BaseModel, ValidationError

from scheduler.cron import Schedule, slot_job_id
from services.core.errors import TransientError
from services.core.jobs import Queue, deserialize, redis_settings, serialize
from services.core.settings import DEVELOPMENT_JWT_SECRET, QueueSettings, Settings
from tasks.runtime import TaskContext, retry_delay_s, task
from tasks.worker import capacities

STRONG = "x" * 40


def test_development_mode_gets_a_development_secret() -> None:
    settings = Settings(environment="development", auth={"jwt_secret": ""})
    assert settings.auth.jwt_secret.get_secret_value() == DEVELOPMENT_JWT_SECRET


@pytest.mark.parametrize(
    "secret", ["", "change-me", "secret", DEVELOPMENT_JWT_SECRET, "short-1234"]
)
def test_placeholder_or_weak_secrets_are_refused_outside_development(secret: str) -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(environment="production", auth={"jwt_secret": secret})


def test_real_secret_is_accepted_in_production() -> None:
    assert Settings(environment="production", auth={"jwt_secret": STRONG}).auth.jwt_secret


def test_nested_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHELFWATCH_QUEUE__CONCURRENCY", "20")
    monkeypatch.setenv("SHELFWATCH_HTTP__CORS_ORIGINS", '["https://app.example.com"]')
    settings = Settings()
    assert settings.queue.concurrency == 20
    assert settings.http.cors_origins == ["https://app.example.com"]


def test_default_capacity_split_is_6_3_1() -> None:
    caps = capacities(Settings(), list(Queue))
    assert caps == {Queue.CRITICAL: 6, Queue.DEFAULT: 3, Queue.LOW: 1}


def test_a_dedicated_pool_gets_all_the_concurrency() -> None:
    assert capacities(Settings(), [Queue.LOW]) == {Queue.LOW: 10}


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    for attempt, (low, high) in {1: (1, 3), 2: (2, 6), 3: (4, 12)}.items():
        delays = [retry_delay_s(attempt, 2.0, 300.0) for _ in range(200)]
        assert low <= min(delays) <= max(delays) <= high
        assert len(set(delays)) > 100  # jittered, not constant
    assert retry_delay_s(30, 2.0, 60.0) <= 60.0


def test_json_serializer_round_trips_and_refuses_objects() -> None:
    payload = {"a": [1, "b"], "c": None}
    assert deserialize(serialize(payload)) == payload
    with pytest.raises(TypeError):
        serialize({"x": object()})


def _ctx(job_try: int) -> dict[str, Any]:
    settings = Settings(
        queue={"max_tries": 3, "retry_base_delay_s": 1, "retry_max_delay_s": 10},
        alerts={"delivery_max_tries": 3},
    )
    context = TaskContext(settings, None, None, None, None)  # type: ignore[arg-type]
    return {"shelfwatch": context, "job_try": job_try, "job_id": "j1"}


async def test_transient_errors_become_retries_until_the_last_try() -> None:
    @task("test.flaky", Queue.DEFAULT)
    async def flaky(ctx: TaskContext) -> None:
        raise TransientError("upstream 503")

    with pytest.raises(Retry) as retry:
        await flaky.fn(_ctx(job_try=1), _meta={"request_id": "r1"})
    assert retry.value.defer_score is not None
    assert 500 <= retry.value.defer_score <= 1500
    with pytest.raises(TransientError):
        await flaky.fn(_ctx(job_try=3))


async def test_an_outage_is_retried_past_max_tries_while_the_job_is_young() -> None:
    """A job that met PostgreSQL or Redis away on its last counted try keeps retrying while
    it was first queued less than ``outage_retry_s`` ago, never past the ceiling."""

    @task("test.outage", Queue.DEFAULT)
    async def outage(ctx: TaskContext) -> None:
        raise TransientError("connection refused")

    def ctx(job_try: int, queued_ago_s: float) -> dict[str, Any]:
        return {
            **_ctx(job_try),
            "enqueue_time": datetime.now(UTC) - timedelta(seconds=queued_ago_s),
        }

    queue = _ctx(1)["shelfwatch"].settings.queue
    assert queue.max_tries == 3 < queue.try_ceiling()
    with pytest.raises(Retry):  # the last counted try, queued a minute ago: retried
        await outage.fn(ctx(job_try=3, queued_ago_s=60))
    with pytest.raises(TransientError):  # the same try, queued longer ago than the window
        await outage.fn(ctx(job_try=3, queued_ago_s=queue.outage_retry_s + 1))
    with pytest.raises(TransientError):  # the ceiling, however young
        await outage.fn(ctx(job_try=queue.try_ceiling(), queued_ago_s=1))


def test_the_try_ceiling_spans_the_outage_window_at_the_shortest_backoff() -> None:
    for window in (0.0, 30.0, 900.0, 3600.0):
        queue = QueueSettings(
            max_tries=3, retry_base_delay_s=2, retry_max_delay_s=300, outage_retry_s=window
        )
        ceiling = queue.try_ceiling()
        shortest = [0.5 * min(300, 2 * 2 ** (k - 1)) for k in range(1, ceiling)]
        assert sum(shortest) >= window
        assert ceiling == 3 or sum(shortest[:-1]) < window  # no try more than needed
        delays = [retry_delay_s(k, 2, 300) for k in range(1, ceiling) for _ in range(20)]
        assert min(delays) >= 1.0


async def test_other_errors_fail_without_retry() -> None:
    @task("test.broken", Queue.DEFAULT)
    async def broken(ctx: TaskContext) -> None:
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        await broken.fn(_ctx(job_try=1))


def test_cron_job_ids_are_stable_within_a_slot() -> None:
    schedule = Schedule("x", "product.plan_crawls", Queue.DEFAULT, slot_s=300)
    assert slot_job_id(schedule, 1000.0) == slot_job_id(schedule, 1199.0)
    assert slot_job_id(schedule, 1000.0) != slot_job_id(schedule, 1200.0)


def test_delivery_tries_cannot_outlast_the_queue_retries() -> None:
    with pytest.raises(ValidationError, match="DELIVERY_MAX_TRIES"):
        Settings(queue={"max_tries": 3}, alerts={"delivery_max_tries": 4})


def test_crawl_timings_all_derive_from_the_batch_deadline() -> None:
    crawl = Settings(crawl={"batch_deadline_s": 2400}).crawl
    assert crawl.apify_run_timeout_s == 1200
    assert crawl.job_timeout_s == 600
    # Run timeout + one ingest step fit in the deadline; the products are held past it.
    assert crawl.start_within_s + crawl.apify_run_timeout_s + crawl.job_timeout_s == 2400
    assert crawl.hold_s > crawl.batch_deadline_s + crawl.poll_interval_s


@pytest.mark.parametrize(
    ("crawl", "apify", "message"),
    [
        ({"batch_deadline_s": 300}, {}, "REQUEST_TIMEOUT_S"),
        ({"lease_s": 300}, {}, "LEASE_S"),
        ({"poll_interval_s": 300}, {}, "POLL_INTERVAL_S"),
        ({"stalled_check_s": 30, "lease_s": 20}, {}, "STALLED_CHECK_S"),
        ({}, {"request_timeout_s": 300}, "REQUEST_TIMEOUT_S"),
    ],
)
def test_crawl_timings_that_cannot_agree_are_refused(
    crawl: dict[str, int], apify: dict[str, int], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(crawl=crawl, apify=apify)


def test_crawl_jobs_get_the_timeout_derived_from_the_deadline() -> None:
    from tasks.product import crawl_batch, plan_crawls, refresh_batch

    settings = Settings(crawl={"batch_deadline_s": 2400})
    assert crawl_batch.timeout(settings) == refresh_batch.timeout(settings) == 600
    assert plan_crawls.timeout(settings) is None  # the queue's default


def _setting_names(model: type[BaseModel], prefix: str) -> list[str]:
    names: list[str] = []
    for name, field in model.model_fields.items():
        nested = field.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            names += _setting_names(nested, f"{prefix}{name.upper()}__")
        else:
            names.append(f"{prefix}{name.upper()}")
    return names


def test_every_setting_is_listed_in_env_example() -> None:
    """Operators learn the settings from .env.example: a setting missing there is hidden."""
    example = (Path(__file__).resolve().parents[3] / ".env.example").read_text()
    listed = {line.split("=", 1)[0].lstrip("# ") for line in example.splitlines() if "=" in line}
    missing = [n for n in _setting_names(Settings, "SHELFWATCH_") if n not in listed]
    assert missing == []


def test_redis_over_a_unix_socket_keeps_its_database_number() -> None:
    """Where the gateway and Redis share a host, SHELFWATCH_REDIS__URL can name the socket."""
    unix = redis_settings("unix:///run/redis/redis.sock?db=3")
    assert unix.unix_socket_path == "/run/redis/redis.sock"
    assert unix.database == 3
    assert redis_settings("redis://127.0.0.1:6379/4").database == 4
