"""Shared by the deployment tests: where the stack's files are, the Debian tools that check
them, and the metric names the alert rules and dashboards use."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_DIR = ROOT / "deploy" / "compose"
COMPOSE = COMPOSE_DIR / "docker-compose.yml"
CADDYFILE = ROOT / "Caddyfile"
PROMETHEUS_DIR = COMPOSE_DIR / "prometheus"
RULES = PROMETHEUS_DIR / "rules" / "shelfwatch.yml"
DASHBOARDS_DIR = COMPOSE_DIR / "grafana" / "dashboards"
ALLOY_CONFIG = COMPOSE_DIR / "alloy" / "config.alloy"

# Names the rules and dashboards may use that Shelfwatch does not export itself: Prometheus's
# own series and the exporters' "is it up" gauges.
EXTERNAL_METRICS = {"up", "ALERTS", "redis_up", "pg_up"}
# Suffixes of the series a histogram exposes under its one HELP/TYPE name.
_HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")
_PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or"}
_PROMQL_WORDS |= {"unless", "bool", "offset", "inf", "nan"}


def tool(name: str) -> str:
    """The path of a Debian tool (caddy, promtool, amtool). Missing: skipped on a developer's
    machine, a failure in CI, whose .ci/run installs them."""
    path = shutil.which(name)
    if path is None:
        message = (
            f"{name} is not installed (apt-get install caddy prometheus prometheus-alertmanager)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def rule_exprs() -> list[str]:
    return [rule["expr"] for group in load_yaml(RULES)["groups"] for rule in group["rules"]]


def recorded_names() -> set[str]:
    return {
        rule["record"]
        for group in load_yaml(RULES)["groups"]
        for rule in group["rules"]
        if "record" in rule
    }


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS_DIR.glob("*.json"))}


def dashboard_targets(datasource_type: str) -> list[str]:
    """The query of every panel target of the given data source type (prometheus or loki)."""
    exprs = []
    for board in dashboards().values():
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                source = target.get("datasource") or panel["datasource"]
                if source["type"] == datasource_type:
                    exprs.append(target["expr"])
    return exprs


def promql_metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: strings, label matchers, ranges and grouping
    clauses removed, then every identifier that is not a function call or a keyword."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.$])([A-Za-z_:][A-Za-z0-9_:]*)\b(\s*\()?", text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in _PROMQL_WORDS:
            continue
        names.add(name)
    return names


def used_metric_names() -> set[str]:
    """Every metric name the alert rules and the Prometheus dashboards query."""
    names: set[str] = set()
    for expr in [*rule_exprs(), *dashboard_targets("prometheus")]:
        names |= promql_metric_names(expr)
    return names - recorded_names()


def exposed_base_name(name: str, exposed: set[str]) -> str:
    """The HELP/TYPE name a series belongs to (a histogram's _bucket/_count/_sum share it)."""
    for suffix in _HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and name.removesuffix(suffix) in exposed:
            return name.removesuffix(suffix)
    return name


def exposition_names(text: str) -> set[str]:
    """Metric names announced by HELP or TYPE lines of a Prometheus text exposition."""
    return set(re.findall(r"^# (?:HELP|TYPE) ([A-Za-z_:][A-Za-z0-9_:]*)", text, re.M))


def alloy_block_map(block: str) -> dict[str, str]:
    """The `name = "value"` pairs inside the first `<block> { ... }` of the Alloy config
    (its stage.json expressions or stage.labels values)."""
    text = ALLOY_CONFIG.read_text()
    match = re.search(re.escape(block) + r"\s*\{(.*?)\n  \}", text, re.S)
    assert match, f"{block} not found in {ALLOY_CONFIG.name}"
    return dict(re.findall(r'(\w+)\s*=\s*"([^"]*)"', match.group(1)))
