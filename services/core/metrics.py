"""Every Prometheus metric Shelfwatch exports outside the gateway's HTTP metrics, defined once."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

JOBS = Counter(
    "shelfwatch_jobs_total", "Jobs finished, by outcome", ["queue", "function", "outcome"]
)
JOB_DURATION = Histogram(
    "shelfwatch_job_duration_seconds",
    "Time spent running a job",
    ["queue", "function"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600),
)
JOB_RETRIES = Counter(
    "shelfwatch_job_retries_total", "Jobs deferred for a retry", ["queue", "function"]
)
OUTAGE_RESPONSES = Counter(
    "shelfwatch_outage_responses_total",
    "Requests answered 503 because PostgreSQL or Redis was away",
    ["dependency"],
)
QUEUE_DEPTH = Gauge("shelfwatch_queue_depth_jobs", "Jobs waiting in a queue", ["queue"])
QUEUE_OLDEST_WAIT = Gauge(
    "shelfwatch_queue_oldest_wait_seconds", "Age of the oldest job due in a queue", ["queue"]
)

CRAWL_RUNS = Counter(
    "shelfwatch_crawl_runs_total", "Actor runs, by final status", ["actor", "status"]
)
CRAWL_ITEMS = Counter(
    "shelfwatch_crawl_items_total", "Items ingested, by crawl status", ["actor", "status"]
)
CRAWL_MISSING = Counter(
    "shelfwatch_crawl_missing_asins_total", "ASINs absent from a run's results", ["actor"]
)
CRAWL_COST = Counter(
    "shelfwatch_crawl_cost_usd_total", "Cost reported by the actor runs", ["actor"]
)
CRAWL_RUN_DURATION = Histogram(
    "shelfwatch_crawl_run_duration_seconds",
    "Wall time of one crawl batch, start to last page",
    ["actor"],
    buckets=(1, 5, 10, 30, 60, 120, 300, 600, 1200),
)

ALERT_EVENTS = Counter("shelfwatch_alert_events_total", "Alert events stored", ["rule", "severity"])
ALERT_EPISODES_ENDED = Counter(
    "shelfwatch_alert_episodes_ended_total",
    "Alerts ended by a later snapshot that undid the change, instead of a new alert",
    ["rule"],
)
ALERT_DELIVERIES = Counter(
    "shelfwatch_alert_deliveries_total", "Notification delivery attempts", ["kind", "outcome"]
)

AUTH_EVENTS = Counter("shelfwatch_auth_events_total", "Authentication events", ["event"])

LLM_CALLS = Counter(
    "shelfwatch_llm_calls_total",
    "LLM completions asked (cache hits excluded), by outcome",
    ["prompt", "model", "outcome"],
)
LLM_TOKENS = Counter(
    "shelfwatch_llm_tokens_total", "LLM tokens billed", ["prompt", "model", "kind"]
)
LLM_COST = Counter("shelfwatch_llm_cost_usd_total", "LLM cost in USD", ["prompt", "model"])
LLM_CACHE_HITS = Counter(
    "shelfwatch_llm_cache_hits_total", "LLM results served from the result cache", ["prompt"]
)
LLM_FAILURES = Counter(
    "shelfwatch_llm_failures_total", "LLM completions that ended failed", ["prompt", "reason"]
)

# Queue administration (the admin dashboard's worker and gateway set these).
JOBS_ARCHIVED = Counter(
    "shelfwatch_jobs_archived_total",
    "Jobs dead-lettered into the archive (retries exhausted or failed for good)",
    ["queue", "function"],
)
WORKERS_ALIVE = Gauge("shelfwatch_workers_alive", "Worker processes with a live heartbeat")
QUEUE_PAUSED = Gauge("shelfwatch_queue_paused", "1 while a queue is paused by an admin", ["queue"])
QUEUE_IN_PROGRESS = Gauge(
    "shelfwatch_queue_in_progress_jobs", "Jobs of a queue running right now", ["queue"]
)

# The transactional outbox (services/core/outbox.py).
OUTBOX_BACKLOG = Gauge(
    "shelfwatch_outbox_backlog_jobs", "Jobs committed to the outbox and not yet in Redis"
)
OUTBOX_OLDEST_AGE = Gauge(
    "shelfwatch_outbox_oldest_age_seconds", "Age of the oldest job waiting in the outbox"
)
OUTBOX_RELAYED = Counter(
    "shelfwatch_outbox_relayed_total",
    "Outbox rows handed to Redis (or found already there), by relay path and outcome",
    ["path", "outcome"],
)
