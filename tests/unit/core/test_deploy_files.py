"""The production stack's files, validated without a Docker engine: the compose file parses and
is consistent, images are pinned, only Caddy is published, secrets come from the env file, and
the Dockerfile builds from the lock file as a non-root user."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from cli.main import build_parser
from tests.deploy_support import CADDYFILE, COMPOSE, COMPOSE_DIR, ROOT, load_yaml

APP_SERVICES = {
    "migrate",
    "gateway",
    "worker-critical",
    "worker-default",
    "worker-low",
    "scheduler",
}
STACK_SERVICES = APP_SERVICES | {
    "postgres",
    "redis",
    "caddy",
    "prometheus",
    "alertmanager",
    "grafana",
    "loki",
    "alloy",
    "redis-exporter",
    "postgres-exporter",
}
# An image reference pinned to a release: a tag that starts with a full version number.
PINNED = re.compile(r"^[\w./-]+:v?\d+\.\d+(\.\d+)?(-[\w.-]+)?$")


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(COMPOSE)
    return data


def _services(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = spec["services"]
    return services


def _env_example() -> dict[str, str]:
    text = (COMPOSE_DIR / ".env.example").read_text()
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", text, re.M))


def test_the_stack_has_every_service(spec: dict[str, Any]) -> None:
    assert set(_services(spec)) == STACK_SERVICES


def test_app_services_run_real_subcommands_one_worker_pool_per_queue(spec: dict[str, Any]) -> None:
    subcommands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    services = _services(spec)
    for name in APP_SERVICES:
        svc = services[name]
        assert svc["image"].startswith("shelfwatch:"), name
        assert svc["build"]["dockerfile"] == "deploy/compose/Dockerfile", name
        assert svc["command"][0] in subcommands, name
    pools = {n: s["command"] for n, s in services.items() if n.startswith("worker-")}
    assert {n: c[1:] for n, c in pools.items()} == {
        f"worker-{q}": ["--queue", q] for q in ("critical", "default", "low")
    }


def test_migrations_run_once_before_every_process(spec: dict[str, Any]) -> None:
    services = _services(spec)
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["command"] == ["migrate"]
    for name in APP_SERVICES - {"migrate"}:
        deps = services[name]["depends_on"]
        assert deps["migrate"] == {"condition": "service_completed_successfully"}, name
        assert deps["postgres"]["condition"] == "service_healthy", name
        assert deps["redis"]["condition"] == "service_healthy", name


def test_every_reference_exists(spec: dict[str, Any]) -> None:
    services = _services(spec)
    volumes, networks = set(spec["volumes"]), set(spec["networks"])
    for name, svc in services.items():
        deps = svc.get("depends_on", [])
        assert set(deps) <= set(services), (name, deps)
        assert set(svc.get("networks", [])) <= networks, name
        for mount in svc.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith((".", "/")):
                if source == "/var/run/docker.sock":
                    continue
                assert (COMPOSE_DIR / source).exists(), (name, source)
            else:
                assert source in volumes, (name, source)
    # Every declared volume is used by someone.
    used = {m.split(":")[0] for svc in services.values() for m in svc.get("volumes", [])}
    assert volumes <= used


def test_every_image_is_pinned_to_a_version(spec: dict[str, Any]) -> None:
    for name, svc in _services(spec).items():
        if name in APP_SERVICES:
            assert svc["image"] == "shelfwatch:${SHELFWATCH_VERSION:-0.1.0}", name
            continue
        assert PINNED.match(svc["image"]), (name, svc["image"])
    dockerfile = (COMPOSE_DIR / "Dockerfile").read_text()
    images = re.findall(r"^(?:ARG PYTHON_IMAGE=|FROM )(\S+)", dockerfile, re.M)
    pinned = [i for i in images if not i.startswith("$") and i not in {"uv", "build"}]
    assert pinned, images
    for image in pinned:
        assert PINNED.match(image), image


def test_only_caddy_publishes_ports(spec: dict[str, Any]) -> None:
    published = {n for n, s in _services(spec).items() if s.get("ports")}
    assert published == {"caddy"}
    for name, svc in _services(spec).items():
        assert svc.get("network_mode") != "host", name
        assert "expose" not in svc or name != "caddy"
    assert {p.split(":")[0] for p in _services(spec)["caddy"]["ports"]} == {"80", "443"}


def test_secrets_come_from_the_env_file_with_no_default(spec: dict[str, Any]) -> None:
    text = COMPOSE.read_text()
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    assert {
        "POSTGRES_PASSWORD",
        "REDIS_PASSWORD",
        "GRAFANA_ADMIN_PASSWORD",
        "ALERTMANAGER_WEBHOOK_URL",
        "SHELFWATCH_DOMAIN",
        "SHELFWATCH_AUTH__JWT_SECRET",
    } <= required
    example = _env_example()
    for name in required:
        assert name in example, f"{name} missing from deploy/compose/.env.example"
        assert example[name] == "", f"{name} must have no default in .env.example"
    # Every tunable with a default is documented too, with the same default.
    for name, default in re.findall(r"\$\{([A-Z0-9_]+):-([^}]*)\}", text):
        assert example.get(name) == default, name
    # No password literal anywhere in the compose file.
    for svc in _services(spec).values():
        env = svc.get("environment", {})
        for key, value in env.items():
            if re.search("PASSWORD|SECRET|PASS$", key):
                assert str(value).startswith("${"), key
    assert (ROOT / ".gitignore").read_text().count(".env") >= 1


def test_redis_is_persistent_and_never_evicts_jobs(spec: dict[str, Any]) -> None:
    redis = _services(spec)["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    assert "--requirepass ${REDIS_PASSWORD:?" in command
    assert redis["volumes"] == ["redis-data:/data"]
    assert _services(spec)["postgres"]["volumes"] == ["postgres-data:/var/lib/postgresql/data"]


def test_long_running_processes_have_health_checks(spec: dict[str, Any]) -> None:
    services = _services(spec)
    for name in ("postgres", "redis", "gateway", "worker-critical", "worker-default", "worker-low"):
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    # Workers are checked on their metrics port, the one Prometheus scrapes.
    assert "9101" in " ".join(services["worker-low"]["healthcheck"]["test"])
    assert services["gateway"]["environment"]["SHELFWATCH_QUEUE__METRICS_PORT"] == "9101"


def test_caddy_upstreams_name_every_default_gateway_replica(spec: dict[str, Any]) -> None:
    example = _env_example()
    replicas = int(example["GATEWAY_REPLICAS"])
    upstreams = example["SHELFWATCH_GATEWAY_UPSTREAMS"].split()
    # Compose names replicas <project>-<service>-<n>.
    assert upstreams == [f"{spec['name']}-gateway-{n}:8000" for n in range(1, replicas + 1)]
    assert f"{{$SHELFWATCH_GATEWAY_UPSTREAMS:{' '.join(upstreams)}}}" in CADDYFILE.read_text()


def test_compose_settings_are_documented_in_env_example() -> None:
    documented = set(
        re.findall(r"^(SHELFWATCH_[A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M)
    )
    used = set(re.findall(r"\b(SHELFWATCH_[A-Z_]+):", COMPOSE.read_text()))
    # Caddy's and the compose file's own, documented in deploy/compose/.env.example.
    used -= {
        "SHELFWATCH_DOMAIN",
        "SHELFWATCH_GATEWAY_UPSTREAMS",
        "SHELFWATCH_GRAFANA_UPSTREAM",
        "SHELFWATCH_MAX_BODY_BYTES",
        "SHELFWATCH_VERSION",
        "SHELFWATCH_SUBNET",
    }
    assert used <= documented, used - documented


def test_dockerfile_is_multi_stage_from_the_lock_file_and_non_root() -> None:
    text = (COMPOSE_DIR / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\w+)", text, re.M)
    assert stages == ["uv", "build", "runtime"]
    build = text.split("AS build", 1)[1].split("AS runtime", 1)[0]
    runtime = text.split("AS runtime", 1)[1]
    assert "COPY pyproject.toml uv.lock" in build
    assert build.count("uv sync --frozen --no-dev") == 2
    # uv and the build cache stay in the build stage.
    assert "uv" not in re.sub(r"\.venv|UV_", "", runtime.split("COPY --from=build", 1)[1])
    user = re.findall(r"^USER (\S+)", runtime, re.M)
    assert user and not user[-1].startswith(("0", "root"))
    assert "HEALTHCHECK" in runtime
    assert 'ENTRYPOINT ["shelfwatch"]' in runtime
    ignore = (COMPOSE_DIR / "Dockerfile.dockerignore").read_text().split()
    assert {".git", ".env", ".venv"} <= set(ignore)


def test_deploy_docs_cover_the_operators_tasks() -> None:
    guide = (ROOT / "deploy" / "README.md").read_text().lower()
    for topic in ("--scale worker-default", "pg_dump", "pg_restore", "migrate", "rotat"):
        assert topic in guide, topic
    assert Path(ROOT / "deploy" / "OPERATIONS.md").exists()
