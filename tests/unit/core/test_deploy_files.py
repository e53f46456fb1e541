"""The production stack files are validated here (no Docker engine runs on CI)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from cli.main import build_parser

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "deploy" / "compose" / "docker-compose.yml"


def test_compose_services_run_real_subcommands() -> None:
    spec = yaml.safe_load(COMPOSE.read_text())
    subcommands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    app_services = {
        name: svc
        for name, svc in spec["services"].items()
        if svc.get("image") == "shelfwatch:latest"
    }
    assert {
        "gateway",
        "worker-critical",
        "worker-default",
        "worker-low",
        "scheduler",
        "migrate",
    } <= set(app_services)
    for name, svc in app_services.items():
        assert svc["command"][0] in subcommands, name
    queues = {svc["command"][2] for n, svc in app_services.items() if n.startswith("worker-")}
    assert queues == {"critical", "default", "low"}


def test_compose_settings_are_documented_in_env_example() -> None:
    documented = set(
        re.findall(r"^(SHELFWATCH_[A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )
    used = set(re.findall(r"\b(SHELFWATCH_[A-Z_]+):", COMPOSE.read_text()))
    used.discard("SHELFWATCH_DOMAIN")  # Caddy's, not the product's
    assert used <= documented, used - documented


def test_caddyfile_proxies_to_the_gateway_and_hides_metrics() -> None:
    caddy = (ROOT / "Caddyfile").read_text()
    assert "reverse_proxy gateway:8000" in caddy
    assert "@metrics path /metrics" in caddy
    assert caddy.count("{") == caddy.count("}")
