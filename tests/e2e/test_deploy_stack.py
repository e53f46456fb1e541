"""The production front door and observability against real processes: Caddy (Debian's binary)
in front of a running gateway, and the metric names the alert rules and dashboards use scraped
from a running gateway and worker."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from services.core.embedded import free_port, wait_for_port
from tests.deploy_support import (
    CADDYFILE,
    EXTERNAL_METRICS,
    alloy_block_map,
    exposed_base_name,
    exposition_names,
    tool,
    used_metric_names,
)
from tests.e2e.conftest import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

# Every spelling of the metrics endpoint a client could try; the gateway itself answers several
# of them (checked below), so Caddy must refuse them all.
METRICS_SPELLINGS = [
    "/metrics",
    "/metrics/",
    "/metrics?x=1",
    "/metrics/?format=prometheus",
    "/METRICS",
    "/Metrics",
    "//metrics",
    "///metrics/",
    "/./metrics",
    "/x/../metrics",
    "/%6detrics",
    "/%6Detrics",
    "/%256detrics",
    "/metrics%2f",
    "/metrics;x",
    "/metrics#frag",
    "/grafana/metrics",
]
BODY_LIMIT = 65_536


def raw_get(
    port: int, target: str, method: str = "GET", body: bytes = b"", headers: str = ""
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request with the target sent byte for byte (no client normalising it)."""
    with socket.create_connection(("127.0.0.1", port), 10) as sock:
        request = (
            f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
            f"{headers}"
        )
        if body and "transfer-encoding" not in headers.lower():
            request += f"Content-Length: {len(body)}\r\nContent-Type: application/json\r\n"
        sock.sendall(request.encode() + b"\r\n" + body)
        chunks = []
        with_timeout = time.monotonic() + 10
        while time.monotonic() < with_timeout:
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not data:
                break
            chunks.append(data)
    raw = b"".join(chunks)
    head, _, payload = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    parsed = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    return status, parsed, payload


class _Stub:
    """A tiny upstream: answers every path with its name; its /health/live can be failed."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.healthy = True
        self.hits = 0
        self.failed_checks = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/health/live":
                    self.send_response(200 if stub.healthy else 503)
                    stub.failed_checks += not stub.healthy
                else:
                    stub.hits += 1
                    self.send_response(200)
                self.send_header("x-upstream", stub.name)
                self.send_header("content-length", str(len(stub.name)))
                self.end_headers()
                self.wfile.write(stub.name.encode())

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stubs() -> Iterator[tuple[_Stub, _Stub]]:
    replica, grafana = _Stub("stub-replica"), _Stub("grafana-stub")
    yield replica, grafana
    replica.close()
    grafana.close()


def _start_caddy(
    tmp_path: Path, site_port: int, upstreams: str, grafana: str
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHELFWATCH_")}
    env.update(
        SHELFWATCH_DOMAIN=f"http://127.0.0.1:{site_port}",
        SHELFWATCH_GATEWAY_UPSTREAMS=upstreams,
        SHELFWATCH_GRAFANA_UPSTREAM=grafana,
        SHELFWATCH_CADDY_ADMIN="off",
        SHELFWATCH_MAX_BODY_BYTES=str(BODY_LIMIT),
        XDG_DATA_HOME=str(tmp_path / "caddy-data"),
        XDG_CONFIG_HOME=str(tmp_path / "caddy-config"),
        HOME=str(tmp_path),
    )
    with (tmp_path / "caddy.log").open("wb") as out:
        return subprocess.Popen(
            [tool("caddy"), "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _upstream_of(port: int) -> str:
    """Which upstream answered a request through Caddy: a stub names itself in a header."""
    status, headers, body = raw_get(port, "/api/v1/system")
    assert status == 200, (status, body)
    if "x-upstream" in headers:
        return headers["x-upstream"]
    assert json.loads(body)["version"]
    return "gateway"


def test_caddy_routes_to_the_gateway_and_hides_internal_endpoints(
    stack: Stack, stubs: tuple[_Stub, _Stub], tmp_path: Path
) -> None:
    replica, grafana = stubs
    gateway_port, site_port = free_port(), free_port()
    stack.start(
        "gateway",
        "gateway",
        "--port",
        str(gateway_port),
        extra_env={"SHELFWATCH_HTTP__ANONYMOUS_RATE_PER_MINUTE": "100000"},
    )
    stack.wait_port("gateway", gateway_port, 90)
    caddy = _start_caddy(
        tmp_path,
        site_port,
        f"127.0.0.1:{gateway_port} 127.0.0.1:{replica.port}",
        f"127.0.0.1:{grafana.port}",
    )
    try:
        wait_for_port(site_port, 20)
        # The gateway itself serves metrics under several spellings: Caddy is what hides them.
        for target in ("/metrics", "/metrics/", "//metrics", "/metrics?x=1"):
            status, _, body = raw_get(gateway_port, target)
            assert status == 200 and b"# HELP" in body, target

        # Load balancing over both upstreams, each health-checked on its own.
        seen = [_upstream_of(site_port) for _ in range(30)]
        assert {"gateway", "stub-replica"} <= set(seen), seen
        replica.healthy = False
        # Caddy's next active check (every 5 s) finds it failing and takes it out of rotation.
        deadline = time.monotonic() + 30
        while replica.failed_checks == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert replica.failed_checks, "Caddy never health-checked the replica"
        time.sleep(0.5)
        hits_before = replica.hits
        seen = [_upstream_of(site_port) for _ in range(20)]
        assert set(seen) == {"gateway"}, seen
        assert replica.hits == hits_before
        replica.close()  # from here on, every answer is the real gateway's

        # The API, the schema, the web pages and /admin reach the gateway.
        status, headers, body = raw_get(site_port, "/api/v1/system")
        assert status == 200 and json.loads(body)["version"]
        assert len(headers["x-request-id"]) >= 8
        assert headers["strict-transport-security"].startswith("max-age=")
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert "server" not in headers
        status, headers, _ = raw_get(site_port, "/schema")
        assert status == 200 and headers["content-type"].startswith("text/html")
        status, _, body = raw_get(site_port, "/schema/openapi.json")
        assert status == 200 and json.loads(body)["openapi"]
        status, headers, _ = raw_get(site_port, "/api/v1/admin/plans")
        assert status == 401 and headers["content-type"] == "application/problem+json"
        status, headers, _ = raw_get(site_port, "/admin")
        assert headers.get("x-request-id")  # answered by the gateway, not by Caddy
        status, _, body = raw_get(site_port, "/health/live")
        assert status == 200 and json.loads(body) == {"status": "ok"}

        # Grafana on its own path.
        status, headers, body = raw_get(site_port, "/grafana/login")
        assert status == 200 and body == b"grafana-stub"

        # Internal endpoints in every spelling.
        for target in [*METRICS_SPELLINGS, "/health/ready", "/HEALTH/ready"]:
            status, headers, body = raw_get(site_port, target)
            assert status == 404, (target, status)
            assert b"# HELP" not in body and b"# TYPE" not in body, target
            assert "x-request-id" not in headers, target  # never reached the gateway
            assert headers["x-content-type-options"] == "nosniff", target

        # Request-body limit: declared or streamed, over the limit is refused by Caddy.
        big = b'{"email": "' + b"a" * BODY_LIMIT + b'"}'
        status, headers, _ = raw_get(site_port, "/api/v1/auth/login", "POST", big)
        assert status == 413 and "x-request-id" not in headers
        chunked = f"{len(big):x}\r\n".encode() + big + b"\r\n0\r\n\r\n"
        status, _, _ = raw_get(
            site_port,
            "/api/v1/auth/login",
            "POST",
            chunked,
            "Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n",
        )
        assert status == 413
        small = json.dumps({"email": "nobody@example.com", "password": "x" * 12}).encode()
        status, headers, _ = raw_get(site_port, "/api/v1/auth/login", "POST", small)
        assert status == 401 and headers["content-type"] == "application/problem+json"
    finally:
        caddy.terminate()
        caddy.wait(10)

    # JSON access logs, one object per line, with Authorization never written out.
    access = []
    for line in (tmp_path / "caddy.log").read_text().splitlines():
        entry = json.loads(line)
        if str(entry.get("logger", "")).startswith("http.log.access"):
            access.append(entry)
    assert any(e["request"]["uri"] == "/api/v1/system" and e["status"] == 200 for e in access)
    assert any(e["request"]["uri"] == "/metrics" and e["status"] == 404 for e in access)


def _scrape(port: int) -> str:
    deadline = time.monotonic() + 90
    while True:
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
            response.raise_for_status()
            return response.text
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_rules_and_dashboards_use_only_names_the_running_processes_export(stack: Stack) -> None:
    gateway_port, worker_metrics_port = free_port(), free_port()
    stack.start("gateway", "gateway", "--port", str(gateway_port))
    stack.start(
        "worker",
        "worker",
        "--queue",
        "critical",
        "--queue",
        "default",
        "--queue",
        "low",
        extra_env={"SHELFWATCH_QUEUE__METRICS_PORT": str(worker_metrics_port)},
    )
    scheduler_metrics_port = free_port()
    stack.start(
        "scheduler",
        "scheduler",
        extra_env={"SHELFWATCH_QUEUE__SCHEDULER_METRICS_PORT": str(scheduler_metrics_port)},
    )
    stack.wait_port("gateway", gateway_port, 90)
    # One request, so the HTTP metrics exist (Litestar creates them on first use).
    assert httpx.get(f"http://127.0.0.1:{gateway_port}/api/v1/system").status_code == 200
    gateway = _scrape(gateway_port)
    worker = _scrape(worker_metrics_port)
    scheduler = _scrape(scheduler_metrics_port)
    exported = exposition_names(gateway) | exposition_names(worker) | exposition_names(scheduler)

    used = used_metric_names()
    missing = {
        name
        for name in used - EXTERNAL_METRICS
        if exposed_base_name(name, exported) not in exported
    }
    assert not missing, f"used in rules/dashboards but exported by no process: {sorted(missing)}"
    # The HTTP metrics carry the labels the rules group and filter by.
    http_sample = next(
        line for line in gateway.splitlines() if line.startswith("shelfwatch_http_requests_total{")
    )
    for label in ("method=", "path=", "status_code="):
        assert label in http_sample
    # The worker exports the job and queue metrics itself (its own /metrics port).
    for name in (
        "shelfwatch_jobs_total",
        "shelfwatch_queue_depth_jobs",
        "shelfwatch_crawl_runs_total",
    ):
        assert name in exposition_names(worker), name

    # The scheduler exports its outbox relay's gauges and counter (its own /metrics port).
    for name in ("shelfwatch_outbox_backlog_jobs", "shelfwatch_outbox_oldest_age_seconds"):
        assert name in exposition_names(scheduler), name

    # Every log line of both processes carries the fields Alloy turns into labels, and the
    # gateway's access lines carry the request id the logs dashboard filters on.
    fields = alloy_block_map("stage.json")
    stack.stop("worker")
    stack.stop("gateway")
    for name in ("gateway", "worker"):
        lines = [json.loads(line) for line in stack.log(name).splitlines() if line.startswith("{")]
        assert lines, name
        for line in lines:
            for label in ("level", "logger", "process"):
                assert fields[label] in line, (name, label, line)
    access = [r for r in stack.records("gateway") if r.get("logger") == "gateway.access"]
    assert access and all(len(entry["request_id"]) >= 8 for entry in access)
