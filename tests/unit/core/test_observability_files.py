"""Prometheus, Alertmanager, Caddy, Grafana and Alloy configuration checked by the real tools
(Debian's caddy, promtool, amtool) and by reading them: no Docker engine needed."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

from tests.deploy_support import (
    ALLOY_CONFIG,
    CADDYFILE,
    COMPOSE,
    COMPOSE_DIR,
    EXTERNAL_METRICS,
    PROMETHEUS_DIR,
    ROOT,
    RULES,
    alloy_block_map,
    dashboard_targets,
    dashboards,
    load_yaml,
    promql_metric_names,
    tool,
    used_metric_names,
)

ALERTMANAGER_CONFIG = COMPOSE_DIR / "alertmanager" / "alertmanager.yml"
OPERATIONS = ROOT / "deploy" / "OPERATIONS.md"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, env=env, check=False)


def test_caddy_validates_the_caddyfile_with_defaults_and_test_settings() -> None:
    caddy = tool("caddy")
    for extra in (
        {},
        {
            "SHELFWATCH_DOMAIN": "http://127.0.0.1:8080",
            "SHELFWATCH_GATEWAY_UPSTREAMS": "127.0.0.1:8001 127.0.0.1:8002",
            "SHELFWATCH_CADDY_ADMIN": "off",
        },
    ):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHELFWATCH_")}
        result = _run(
            caddy,
            "validate",
            "--config",
            str(CADDYFILE),
            "--adapter",
            "caddyfile",
            env={**env, **extra},
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Valid configuration" in result.stdout + result.stderr
    fmt = _run(caddy, "fmt", str(CADDYFILE))
    assert fmt.stdout == CADDYFILE.read_text(), "run `caddy fmt --overwrite Caddyfile`"


def test_promtool_accepts_the_config_and_the_rules() -> None:
    promtool = tool("promtool")
    config = _run(promtool, "check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))
    assert config.returncode == 0, config.stdout + config.stderr
    # The config's relative rule_files glob found the rules (not zero files).
    assert "1 rule files found" in config.stdout
    rules = _run(promtool, "check", "rules", str(RULES))
    assert rules.returncode == 0, rules.stdout + rules.stderr


def test_promtool_unit_tests_of_the_main_alerts_pass() -> None:
    promtool = tool("promtool")
    tests = PROMETHEUS_DIR / "tests" / "shelfwatch.test.yml"
    result = _run(promtool, "test", "rules", str(tests))
    assert result.returncode == 0, result.stdout + result.stderr
    tested = {t["alertname"] for case in load_yaml(tests)["tests"] for t in case["alert_rule_test"]}
    assert {
        "GatewayDown",
        "WorkerPoolDown",
        "HighHttp5xxRatio",
        "HighHttpLatencyP95",
        "QueueBacklog",
        "QueueJobsWaitingTooLong",
        "OutboxStuck",
        "DeadLetterGrowing",
        "CrawlBlockedRatioHigh",
        "ApifyCostPerDayHigh",
        "LlmErrorRatioHigh",
        "AlertDeliveryFailures",
        "RedisDown",
        "PostgresDown",
    } <= tested


def test_the_rules_cover_what_the_operator_must_know() -> None:
    alerts = {
        rule["alert"]: rule
        for group in load_yaml(RULES)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    assert {
        "GatewayDown",
        "HighHttp5xxRatio",
        "HighHttpLatencyP95",
        "QueueBacklog",
        "QueueJobsWaitingTooLong",
        "OutboxStuck",
        "DeadLetterGrowing",
        "WorkersMissing",
        "WorkerPoolDown",
        "CrawlRunFailureRatioHigh",
        "CrawlBlockedRatioHigh",
        "ApifyCostPerDayHigh",
        "LlmErrorRatioHigh",
        "LlmCostPerDayHigh",
        "AlertDeliveryFailures",
        "RedisDown",
        "PostgresDown",
    } <= set(alerts)
    guide = OPERATIONS.read_text()
    anchors = {
        re.sub(r"[^a-z0-9-]", "", h.strip().lower().replace(" ", "-"))
        for h in re.findall(r"^#+ (.+)$", guide, re.M)
    }
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        runbook = rule["annotations"]["runbook"]
        assert runbook == f"deploy/OPERATIONS.md#{name.lower()}", name
        assert name.lower() in anchors, f"{name} has no section in OPERATIONS.md"


def test_every_metric_in_rules_and_dashboards_is_a_known_name() -> None:
    # The scrape of running processes (tests/e2e/test_deploy_stack.py) proves the shelfwatch_*
    # names are exported; here: nothing else sneaks in, and the parser sees what it should.
    names = used_metric_names()
    assert {n for n in names if not n.startswith("shelfwatch_")} <= EXTERNAL_METRICS
    assert promql_metric_names(
        'sum by (le) (rate(a_bucket{x="y"}[5m])) / on (q) b unless c == bool 1'
    ) == {"a_bucket", "b", "c"}


def test_prometheus_scrapes_every_process_of_the_compose_file() -> None:
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    services = set(load_yaml(COMPOSE)["services"])
    targets: dict[str, set[str]] = {}
    for job in config["scrape_configs"]:
        hosts = {f"{n}:{sd['port']}" for sd in job.get("dns_sd_configs", []) for n in sd["names"]}
        hosts |= {t for sc in job.get("static_configs", []) for t in sc["targets"]}
        targets[job["job_name"]] = hosts
    assert targets["gateway"] == {"gateway:8000"}
    for pool in ("critical", "default", "low"):
        assert targets[f"worker-{pool}"] == {f"worker-{pool}:9101"}
    assert targets["scheduler"] == {"scheduler:9102"}
    assert targets["redis"] == {"redis-exporter:9121"}
    assert targets["postgres"] == {"postgres-exporter:9187"}
    for hosts in targets.values():
        for host in hosts:
            name = host.split(":")[0]
            assert name == "localhost" or name in services, host
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "alertmanager:9093"
    ]


def test_amtool_accepts_the_config_as_the_container_renders_it(tmp_path: Path) -> None:
    amtool = tool("amtool")
    plain = _run(amtool, "check-config", str(ALERTMANAGER_CONFIG))
    assert plain.returncode == 0, plain.stdout + plain.stderr
    # Run the compose entrypoint's own shell script, with paths moved here and amtool in place
    # of the server, on a URL holding the characters sed would otherwise mangle.
    service = load_yaml(COMPOSE)["services"]["alertmanager"]
    script = service["command"][0].replace("$$", "$")
    rendered = tmp_path / "alertmanager.yml"
    script = script.replace("/etc/alertmanager/alertmanager.yml", str(ALERTMANAGER_CONFIG))
    script = script.replace("/tmp/alertmanager.yml", str(rendered))
    script = re.sub(
        r"exec /bin/alertmanager .*$", f"exec {shlex.quote(amtool)} check-config {rendered}", script
    )
    url = "https://hooks.example.com/a|b?token=x&y=1\\z'q\"#"
    result = _run(
        "/bin/sh", "-c", script, env={"ALERTMANAGER_WEBHOOK_URL": url, "PATH": os.environ["PATH"]}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    receiver = load_yaml(rendered)["receivers"][0]["webhook_configs"][0]
    assert receiver["url"] == url
    route = load_yaml(rendered)["route"]
    assert route["receiver"] == "webhook"


def test_grafana_dashboards_parse_and_use_provisioned_datasources() -> None:
    provisioned = load_yaml(
        COMPOSE_DIR / "grafana" / "provisioning" / "datasources" / "datasources.yml"
    )
    uids = {d["uid"]: d["type"] for d in provisioned["datasources"]}
    assert uids == {"prometheus": "prometheus", "loki": "loki"}
    boards = dashboards()
    assert set(boards) == {
        "api.json",
        "queues.json",
        "crawl.json",
        "llm.json",
        "alerts.json",
        "logs.json",
    }
    seen_uids = set()
    for name, board in boards.items():
        assert board["uid"] not in seen_uids, name
        seen_uids.add(board["uid"])
        assert board["panels"], name
        for panel in board["panels"]:
            sources = [panel["datasource"]] + [t["datasource"] for t in panel.get("targets", [])]
            for source in sources:
                assert uids.get(source["uid"]) == source["type"], (name, panel["title"])
            assert panel.get("targets"), (name, panel["title"])
        for var in board["templating"]["list"]:
            if "datasource" in var:
                assert uids.get(var["datasource"]["uid"]) == var["datasource"]["type"]
    provider = load_yaml(COMPOSE_DIR / "grafana" / "provisioning" / "dashboards" / "dashboards.yml")
    grafana = load_yaml(COMPOSE)["services"]["grafana"]
    assert (
        f"./grafana/dashboards:{provider['providers'][0]['options']['path']}:ro"
        in grafana["volumes"]
    )


def test_logs_are_labelled_by_level_logger_process_and_ids_stay_in_the_line() -> None:
    labels = alloy_block_map("stage.labels")
    assert set(labels) == {"level", "logger", "process"}
    extracted = alloy_block_map("stage.json")
    assert extracted["process"] == "process_name"
    assert {"level", "logger"} <= set(extracted)
    text = ALLOY_CONFIG.read_text()
    relabelled = set(re.findall(r'target_label\s*=\s*"(\w+)"', text))
    assert relabelled == {"service"}
    for high_cardinality in ("request_id", "job_id", "user_id"):
        assert high_cardinality not in labels
        assert high_cardinality not in relabelled
    # The logs dashboard selects streams only by those labels and filters ids in the line.
    allowed = set(labels) | relabelled
    queries = dashboard_targets("loki")
    assert queries
    for query in queries:
        for selector in re.findall(r"\{([^}]*)\}", query):
            assert {m.split("=")[0].strip(" !~") for m in selector.split(",")} <= allowed, query
    logs = "\n".join(queries)
    assert "| json" in logs and 'request_id=~"$request_id' in logs and 'job_id=~"$job_id' in logs


def test_loki_keeps_logs_on_its_volume_with_a_retention() -> None:
    config = load_yaml(COMPOSE_DIR / "loki" / "loki.yml")
    assert config["auth_enabled"] is False
    assert config["common"]["path_prefix"] == "/loki"
    assert config["compactor"]["retention_enabled"] is True
    assert config["limits_config"]["retention_period"]
    assert "loki-data:/loki" in load_yaml(COMPOSE)["services"]["loki"]["volumes"]
