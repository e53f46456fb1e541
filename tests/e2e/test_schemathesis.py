"""Property-based run of the whole OpenAPI against a real gateway process: a few hundred
generated requests (valid and invalid), as a seller and anonymously. No answer may be a 5xx,
and every answer must match what the schema documents (status, media type, body)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from services.core.settings import Settings
from tests.e2e.gateway_process import gateway_env, running_gateway

PASSWORD = "a-Strong-passw0rd"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Bounded: ~40 operations x 8 examples x 2 callers is a few hundred requests.
EXAMPLES = int(os.environ.get("SHELFWATCH_SCHEMATHESIS_EXAMPLES", "8"))


@pytest.fixture(scope="module")
def gateway_url(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = gateway_env(
        settings,
        # Anonymous generated traffic must meet the handlers, not the rate limiter.
        SHELFWATCH_HTTP__ANONYMOUS_RATE_PER_MINUTE="100000",
    )
    log = tmp_path_factory.mktemp("schemathesis") / "gateway.log"
    with running_gateway(env, log) as url:
        yield url


@pytest.fixture(scope="module")
def api_schema(gateway_url: str) -> Any:
    return schemathesis.openapi.from_url(f"{gateway_url}/schema/openapi.json")


def new_seller(gateway_url: str, database_url: str) -> dict[str, str]:
    """A fresh seller on a plan whose rate limit generated traffic cannot reach (a fresh one
    per operation: the logout operation revokes the token it is given)."""
    email = f"st-{uuid.uuid4().hex[:10]}@example.com"
    body = {"email": email, "password": PASSWORD}
    assert httpx.post(f"{gateway_url}/api/v1/auth/register", json=body).status_code == 201

    async def lift_rate_limit() -> None:
        connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
        try:
            plan_id = await connection.fetchval(
                "INSERT INTO plans (name, max_tracked_products, rate_limit_per_minute) "
                "VALUES ($1, 1000, 100000) RETURNING id",
                f"schemathesis-{uuid.uuid4().hex[:8]}",
            )
            await connection.execute(
                "UPDATE users SET plan_id = $1 WHERE email = $2", plan_id, email
            )
        finally:
            await connection.close()

    asyncio.run(lift_rate_limit())
    token = httpx.post(f"{gateway_url}/api/v1/auth/login", json=body).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def check_operation(
    operation: Any, base_url: str, headers: dict[str, str] | None, statuses: Counter[int]
) -> None:
    """``EXAMPLES`` generated cases of one operation; raises what schemathesis found."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Case) -> None:
        response = case.call(base_url=base_url, headers=headers)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)

    check()


def run_all(
    schema: Any, base_url: str, headers_for: Callable[[], dict[str, str]] | None
) -> tuple[list[str], Counter[int]]:
    """Every operation of the schema: the failures found and the statuses seen."""
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    headers: dict[str, str] | None = None
    for result in schema.get_all_operations():
        operation = result.ok()
        if headers_for is not None and (headers is None or operation.path.endswith("/logout")):
            # A fresh seller for logout (it revokes its token) and for what follows it.
            headers = headers_for()
        try:
            check_operation(operation, base_url, headers, statuses)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # schemathesis raises exception groups; report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
        if operation.path.endswith("/logout"):
            headers = None
    return failures, statuses


@pytest.mark.timeout(900)  # a few hundred requests on a shared, busy machine
def test_api_as_seller(api_schema: Any, gateway_url: str, database_url: str) -> None:
    failures, statuses = run_all(
        api_schema, gateway_url, lambda: new_seller(gateway_url, database_url)
    )
    print("seller statuses:", dict(sorted(statuses.items())))
    assert not failures, "\n\n".join(failures)
    assert sum(statuses.values()) >= 100
    assert not [s for s in statuses if s >= 500]


@pytest.mark.timeout(900)
def test_api_anonymously(api_schema: Any, gateway_url: str) -> None:
    failures, statuses = run_all(api_schema, gateway_url, None)
    print("anonymous statuses:", dict(sorted(statuses.items())))
    assert not failures, "\n\n".join(failures)
    assert sum(statuses.values()) >= 100
    assert not [s for s in statuses if s >= 500]
