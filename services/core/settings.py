"""One settings object for every process, read from the environment (prefix ``SHELFWATCH_``)."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "dev-secret"})
# Used only in development mode so the embedded default runs with no setup at all.
DEVELOPMENT_JWT_SECRET = "development-only-jwt-secret-do-not-use-in-production"  # noqa: S105


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class DatabaseSettings(BaseModel):
    # Empty means "start the embedded PostgreSQL under the data folder".
    url: str = ""
    pool_size: int = Field(default=10, ge=1, le=200)
    max_overflow: int = Field(default=10, ge=0, le=200)
    echo: bool = False


class RedisSettings(BaseModel):
    # Empty means "start the embedded Redis under the data folder".
    url: str = ""


class AuthSettings(BaseModel):
    jwt_secret: SecretStr = SecretStr("")
    jwt_algorithm: str = "HS256"
    access_token_ttl_s: int = Field(default=900, ge=60, le=86_400)
    refresh_token_ttl_s: int = Field(default=30 * 86_400, ge=3600, le=365 * 86_400)
    # Failed logins per account or per IP inside the window before further attempts are refused.
    login_max_failures: int = Field(default=5, ge=1, le=100)
    login_failure_window_s: int = Field(default=900, ge=60, le=86_400)
    password_min_length: int = Field(default=10, ge=8, le=128)


class HttpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65_535)
    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # Requests per minute for anonymous callers, by IP; API calls with a bearer token get the
    # seller's plan rate; pages with a signed-in session get the default rate (the session holds
    # no plan), counted in the same window as that user's API calls.
    anonymous_rate_per_minute: int = Field(default=60, ge=1)
    default_rate_per_minute: int = Field(default=120, ge=1)
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1"])
    # How `shelfwatch gateway` serves (gateway/serving.py; the read-path benchmark backs it).
    workers: int = Field(default=1, ge=1, le=64)
    loop: Literal["uvloop", "asyncio"] = "uvloop"
    parser: Literal["httptools", "h11"] = "httptools"


# However short the backoff is set, a job never gets more tries than this for an outage.
MAX_OUTAGE_TRIES = 100


class QueueSettings(BaseModel):
    # Concurrency of one all-queue worker process, split 6:3:1 over critical/default/low.
    concurrency: int = Field(default=10, ge=3, le=500)
    weights: tuple[int, int, int] = (6, 3, 1)
    max_tries: int = Field(default=5, ge=1, le=50)
    retry_base_delay_s: float = Field(default=2.0, gt=0)
    retry_max_delay_s: float = Field(default=300.0, gt=0)
    # A try that failed on an outage (PostgreSQL, Redis or an upstream away) is retried with
    # backoff for this long after the job was first queued, even past max_tries: an outage of
    # a few minutes delays jobs, it does not throw them away (up to MAX_OUTAGE_TRIES tries).
    # 0: max_tries alone decides.
    outage_retry_s: float = Field(default=900.0, ge=0, le=86_400)
    job_timeout_s: int = Field(default=600, ge=1)
    heartbeat_ttl_s: int = Field(default=60, ge=5)
    # Prometheus endpoint of a worker process; 0 turns it off.
    metrics_port: int = Field(default=9101, ge=0, le=65_535)
    # Loopback by default; a container sets 0.0.0.0 so Prometheus on the private network scrapes.
    metrics_host: str = "127.0.0.1"
    # The scheduler's outbox relay loop: how often it looks, how old a row must be before the
    # loop sends it (younger rows are being sent by the process that committed them), and how
    # many rows one pass takes.
    outbox_relay_interval_s: float = Field(default=2.0, gt=0, le=300)
    outbox_relay_after_s: float = Field(default=10.0, ge=0, le=3600)
    outbox_relay_batch: int = Field(default=200, ge=1, le=10_000)
    # Prometheus endpoint of the scheduler process (the outbox gauges); 0 turns it off.
    scheduler_metrics_port: int = Field(default=9102, ge=0, le=65_535)

    def try_ceiling(self) -> int:
        """The most tries a job gets: max_tries, or as many as the shortest backoff (jitter at
        its low end) needs to span ``outage_retry_s``, whichever is more."""
        waited, tries = 0.0, 1
        while waited < self.outage_retry_s and tries < MAX_OUTAGE_TRIES:
            waited += 0.5 * min(self.retry_max_delay_s, self.retry_base_delay_s * 2 ** (tries - 1))
            tries += 1
        return max(self.max_tries, tries)


class ApifySettings(BaseModel):
    # Empty base URL with an empty token means "run the bundled Apify simulator".
    base_url: str = ""
    token: SecretStr = SecretStr("")
    actor: str = "axesso_data/amazon-product-details-scraper"
    batch_size: int = Field(default=500, ge=1, le=5000)
    max_items_per_run: int = Field(default=5000, ge=1)
    max_charge_usd: float = Field(default=5.0, gt=0)
    page_size: int = Field(default=1000, ge=1, le=10_000)
    max_retries: int = Field(default=6, ge=0, le=20)
    request_timeout_s: int = Field(default=60, ge=1)
    freshness_window_s: int = Field(default=3600, ge=0)
    # Times an ASIN may be missing from results before it is recorded as an error.
    max_missing_attempts: int = Field(default=3, ge=1)
    # True when base_url points at the bundled simulator: the product then says its data is
    # simulated. `shelfwatch up` sets it when it starts the simulator itself.
    simulated: bool = False


class CrawlScheduleSettings(BaseModel):
    daily_hour_utc: int = Field(default=6, ge=0, le=23)
    jitter_s: int = Field(default=900, ge=0)
    plan_interval_minutes: int = Field(default=5, ge=1, le=60)
    # Newly tracked products are gathered this long, then crawled together in one small batch.
    first_crawl_batch_s: int = Field(default=5, ge=1, le=60)
    retention_days: int = Field(default=400, ge=7)
    partitions_ahead_months: int = Field(default=3, ge=1, le=24)
    # The longest a batch may take from planning to its last snapshot. The Apify run's own
    # timeout, the ARQ timeout of a crawl job and the hold on the batch's products all derive
    # from it (see the properties below), so they cannot disagree.
    batch_deadline_s: int = Field(default=1800, ge=120, le=7 * 86_400)
    # A running crawl job holds its batch by a lease it renews every third of this; a batch
    # whose lease lapsed (its worker died) is sent again by the scheduler's stalled-batch pass.
    lease_s: int = Field(default=15, ge=3, le=600)
    # How often the scheduler looks for lapsed leases.
    stalled_check_s: int = Field(default=10, ge=1, le=60)
    # A crawl job asks Apify to wait this long for the run to end (Apify caps it at 60 s) ...
    poll_wait_s: int = Field(default=5, ge=0, le=60)
    # ... and, if it is still running, frees its worker slot and comes back this much later.
    poll_interval_s: int = Field(default=15, ge=1, le=3600)

    @property
    def apify_run_timeout_s(self) -> int:
        """The timeout the Apify run is started with: Apify ends it (TIMED-OUT, its pushed
        items kept) rather than letting it bill past the batch's deadline."""
        return self.batch_deadline_s // 2

    @property
    def job_timeout_s(self) -> int:
        """ARQ's timeout of one crawl job: one step (start, one poll, or ingesting the dataset)."""
        return self.batch_deadline_s // 4

    @property
    def start_within_s(self) -> int:
        """A batch whose Apify run has not been asked for this long after planning is given
        up (its products released): started later, it could not end inside its deadline."""
        return self.batch_deadline_s - self.apify_run_timeout_s - self.job_timeout_s

    @property
    def hold_s(self) -> int:
        """How long planning holds a batch's products: the deadline, plus the lag of one poll
        and of one lapsed lease, so no second batch is planned while the first may still run."""
        return self.batch_deadline_s + self.poll_interval_s + 2 * self.lease_s


class AlertSettings(BaseModel):
    # A (tracked product, rule) that fired stays quiet for this long.
    rearm_window_s: int = Field(default=6 * 3600, ge=0, le=30 * 86_400)
    daily_cap_per_seller: int = Field(default=200, ge=1, le=100_000)
    # How long, in snapshot capture time, an alert stays open for the move that undoes it (a
    # deal's end, a restock, a rank coming back) to end it rather than raise an alert of its
    # own; 0 tells every move apart.
    episode_window_s: int = Field(default=7 * 86_400, ge=0, le=30 * 86_400)
    digest_hour_utc: int = Field(default=7, ge=0, le=23)
    # Outbound webhooks to private, loopback or link-local addresses are refused unless allowed.
    allow_private_targets: bool = False
    delivery_timeout_s: float = Field(default=10.0, gt=0, le=120)
    # At most the queue's max_tries, so the last attempt is recorded as failed by the delivery.
    delivery_max_tries: int = Field(default=5, ge=1, le=20)
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65_535)
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_from: str = "shelfwatch@localhost"
    smtp_starttls: bool = True


class CacheSettings(BaseModel):
    # Read models live 24-48 h; ingest refreshes or invalidates them long before.
    ttl_s: int = Field(default=36 * 3600, ge=60, le=7 * 86_400)


class ModelPrice(BaseModel):
    """USD per million tokens."""

    input: float = Field(ge=0)
    cached_input: float = Field(ge=0)
    output: float = Field(ge=0)


def _default_prices() -> dict[str, ModelPrice]:
    # Public list prices (USD / 1M tokens); operators override them for their own models.
    return {
        "gpt-4o-mini": ModelPrice(input=0.15, cached_input=0.075, output=0.60),
        "gpt-4o": ModelPrice(input=2.50, cached_input=1.25, output=10.00),
        "gpt-4.1-mini": ModelPrice(input=0.40, cached_input=0.10, output=1.60),
        "gpt-4.1": ModelPrice(input=2.00, cached_input=0.50, output=8.00),
    }


class OpenAISettings(BaseModel):
    # No key means no LLM: reports and suggestions fall back to the deterministic rule engine.
    api_key: SecretStr = SecretStr("")
    # Empty = api.openai.com; any OpenAI-compatible server works (Ollama, vLLM, a proxy, the
    # bundled `shelfwatch openai-sim`).
    base_url: str = ""
    model: str = "gpt-4o-mini"
    timeout_s: float = Field(default=60.0, gt=0, le=600)
    # Retries of 429 / 5xx / timeouts by the openai client (backoff with jitter, Retry-After).
    max_retries: int = Field(default=3, ge=0, le=10)
    max_output_tokens: int = Field(default=2000, ge=100, le=32_000)
    temperature: float = Field(default=0.2, ge=0, le=2)
    prices: dict[str, ModelPrice] = Field(default_factory=_default_prices)
    # True when base_url is the bundled stand-in (`shelfwatch up --openai-sim` sets it).
    simulated: bool = False

    @property
    def enabled(self) -> bool:
        return bool(self.api_key.get_secret_value())


class CompetitorSettings(BaseModel):
    # How long a report waits for its stale members' crawl before analysing what it has.
    fresh_data_wait_s: int = Field(default=600, ge=0, le=86_400)
    # Delay between two checks of that crawl (the job re-enqueues itself; no slot is held).
    fresh_data_poll_s: float = Field(default=10.0, gt=0, le=600)
    # A member whose last good data is older than this is refreshed before an analysis.
    freshness_window_s: int = Field(default=6 * 3600, ge=0, le=30 * 86_400)


class OptimizationSettings(BaseModel):
    # Impact tracking ("A/B"): days of daily metrics before and after a change went live.
    baseline_days: int = Field(default=14, ge=3, le=90)
    measure_days: int = Field(default=14, ge=3, le=90)
    # A metric with fewer days of data than this in either window is `insufficient_data`.
    min_days: int = Field(default=7, ge=3, le=90)
    # A keyword must be used by this many competitors to be suggested.
    keyword_min_competitors: int = Field(default=2, ge=1, le=5)
    # How far back a seller may date a change ("it went live on ...").
    max_backdate_days: int = Field(default=120, ge=1, le=730)
    # A run still queued/running after this long is taken as lost and no longer deduplicates.
    run_stale_after_s: int = Field(default=3600, ge=60, le=7 * 86_400)


class WebSettings(BaseModel):
    """The seller and admin dashboards: server-side sessions in Redis, CSRF on every form."""

    session_max_age_s: int = Field(default=14 * 86_400, ge=300, le=90 * 86_400)
    # Secure cookies everywhere but development, unless the operator says otherwise (a TLS
    # proxy in front of a "development" install, or plain HTTP on a private test network).
    cookie_secure: bool | None = None


class AdminSettings(BaseModel):
    # Archived (dead-lettered) jobs older than this are purged by a daily job.
    dead_letter_retention_days: int = Field(default=30, ge=1, le=3650)
    # How long ARQ keeps a finished job's result (and the dashboard lists it as completed/failed).
    result_retention_s: int = Field(default=3600, ge=60, le=7 * 86_400)
    # A worker without a heartbeat shows as gone for this long, then leaves the list.
    gone_worker_visible_s: int = Field(default=3600, ge=60)
    # The Redis view stops SCANning after this many keys (it says so).
    redis_scan_max_keys: int = Field(default=200_000, ge=1000)


class Settings(BaseSettings):
    """Every setting of every Shelfwatch process."""

    model_config = SettingsConfigDict(
        env_prefix="SHELFWATCH_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
    )

    environment: Environment = Environment.DEVELOPMENT
    data_dir: Path = Path(".shelfwatch")
    log_level: str = "INFO"
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    apify: ApifySettings = Field(default_factory=ApifySettings)
    crawl: CrawlScheduleSettings = Field(default_factory=CrawlScheduleSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    openai: OpenAISettings = Field(default_factory=OpenAISettings)
    competitor: CompetitorSettings = Field(default_factory=CompetitorSettings)
    optimization: OptimizationSettings = Field(default_factory=OptimizationSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    admin: AdminSettings = Field(default_factory=AdminSettings)

    @model_validator(mode="after")
    def _delivery_tries_fit_the_queue(self) -> Settings:
        if self.alerts.delivery_max_tries > self.queue.max_tries:
            raise ValueError(
                "SHELFWATCH_ALERTS__DELIVERY_MAX_TRIES cannot exceed SHELFWATCH_QUEUE__MAX_TRIES"
            )
        return self

    @model_validator(mode="after")
    def _crawl_timings_agree(self) -> Settings:
        crawl = self.crawl
        problems = []
        # A step's longest Apify call (a long request the client may retry) must fit in it.
        if self.apify.request_timeout_s * 2 + crawl.poll_wait_s >= crawl.job_timeout_s:
            problems.append(
                "a crawl job (BATCH_DEADLINE_S / 4) must outlast two Apify request timeouts "
                "(SHELFWATCH_APIFY__REQUEST_TIMEOUT_S) plus POLL_WAIT_S"
            )
        if crawl.lease_s * 2 > crawl.job_timeout_s:
            problems.append(
                "LEASE_S must be at most half a crawl job's timeout (BATCH_DEADLINE_S / 4)"
            )
        if crawl.poll_interval_s * 4 > crawl.apify_run_timeout_s:
            problems.append(
                "POLL_INTERVAL_S must let a run be checked at least 4 times within its Apify "
                "timeout (BATCH_DEADLINE_S / 2)"
            )
        if crawl.stalled_check_s > crawl.lease_s:
            problems.append("STALLED_CHECK_S must not exceed LEASE_S")
        if problems:
            raise ValueError("inconsistent SHELFWATCH_CRAWL__ timings: " + "; ".join(problems))
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        secret = self.auth.jwt_secret.get_secret_value()
        if self.environment is Environment.DEVELOPMENT:
            if not secret:
                self.auth.jwt_secret = SecretStr(DEVELOPMENT_JWT_SECRET)
            return self
        if secret.lower() in PLACEHOLDER_SECRETS or secret == DEVELOPMENT_JWT_SECRET:
            raise ValueError(
                "SHELFWATCH_AUTH__JWT_SECRET must be set to a real secret outside development mode"
            )
        if len(secret) < 32:
            raise ValueError("SHELFWATCH_AUTH__JWT_SECRET must be at least 32 characters")
        return self

    @property
    def needs_apify_simulator(self) -> bool:
        """No Apify configured at all: `shelfwatch up` starts the bundled simulator."""
        return not self.apify.base_url and not self.apify.token.get_secret_value()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once on first use (never at import time)."""
    return Settings()
