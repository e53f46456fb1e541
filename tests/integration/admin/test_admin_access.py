"""Every admin route, JSON and page, refuses anonymous callers and sellers; admins pass.

The routes are read from the app itself, so a route added later is covered without editing
this test."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from litestar import Litestar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from cli.admin import create_admin
from scheduler.cron import schedule_entries
from services.admin.queues import publish_schedule
from services.core.settings import Settings
from tests.integration.conftest import PASSWORD, app_client, current_resources
from tests.integration.web.conftest import csrf_token

pytestmark = pytest.mark.asyncio

SAMPLE = {
    "queue": "low",
    "job_id": "some-job",
    "dead_letter_id": str(uuid.uuid4()),
    "name": "purge-tokens",
    "action": "retry",
    "user_id": str(uuid.uuid4()),
}


def admin_routes(app: Litestar) -> list[tuple[str, str]]:
    """(method, concrete path) of every route under /api/v1/admin and /admin."""
    out = []
    for route in app.routes:
        if not (route.path.startswith("/api/v1/admin") or route.path.startswith("/admin")):
            continue
        path = re.sub(r"\{(\w+):\w+\}", lambda m: SAMPLE.get(m.group(1), "x"), route.path)
        for method in sorted(getattr(route, "methods", set()) - {"OPTIONS", "HEAD"}):
            out.append((method, path))
    return out


async def _login_bearer(http: httpx.AsyncClient, email: str) -> dict[str, str]:
    r = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _session(http: httpx.AsyncClient, email: str) -> str:
    """Sign in through the page; returns a CSRF token for posts."""
    page = await http.get("/login")
    r = await http.post(
        "/login",
        data={"_csrf_token": csrf_token(page.text), "email": email, "password": PASSWORD},
    )
    assert r.status_code == 303, r.text
    return csrf_token((await http.get("/settings")).text)


async def test_every_admin_route_refuses_anonymous_users_and_sellers(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with app_client(settings, base_url="https://test") as http:
        from tests.integration.conftest import _APPS

        routes = admin_routes(_APPS[id(http)])
        api = [(m, p) for m, p in routes if p.startswith("/api/")]
        pages = [(m, p) for m, p in routes if p.startswith("/admin")]
        assert len(api) >= 20 and len(pages) >= 15, routes

        r = await http.post(
            "/api/v1/auth/register", json={"email": "seller-one@example.com", "password": PASSWORD}
        )
        assert r.status_code == 201
        seller = await _login_bearer(http, "seller-one@example.com")

        for method, path in api:
            anon = await http.request(method, path)
            assert anon.status_code == 401, (method, path, anon.status_code)
            assert anon.headers["content-type"].startswith("application/problem+json")
            refused = await http.request(method, path, headers=seller)
            assert refused.status_code == 403, (method, path, refused.status_code)

        # Pages: anonymous visitors are sent to sign in; a signed-in seller gets 403.
        for method, path in pages:
            if method == "GET":
                anon = await http.get(path)
                assert anon.status_code == 303, (path, anon.status_code)
                assert anon.headers["location"].startswith("/login")
        token = await _session(http, "seller-one@example.com")
        for method, path in pages:
            data = {"_csrf_token": token} if method == "POST" else None
            r = await http.request(method, path, data=data)
            assert r.status_code == 403, (method, path, r.status_code)
            assert "text/html" in r.headers["content-type"]

        async with engine.connect() as conn:
            audited = (await conn.execute(text("SELECT count(*) FROM admin_audit_log"))).scalar()
        assert audited == 0  # no refused seller call reached an admin action


async def test_admin_pages_render_and_actions_are_audited(settings: Settings) -> None:
    await create_admin(settings, "ops@example.com", PASSWORD)
    async with app_client(settings, base_url="https://test") as http:
        # What the scheduler publishes when it starts.
        await publish_schedule(current_resources(http).redis, schedule_entries(settings))
        token = await _session(http, "ops@example.com")
        for path in [
            "/admin",
            "/admin/queues/low",
            "/admin/queues/low?state=failed",
            "/admin/dead-letters",
            "/admin/workers",
            "/admin/schedule",
            "/admin/redis",
            "/admin/costs",
            "/admin/audit",
        ]:
            r = await http.get(path)
            assert r.status_code == 200, (path, r.text[:500])
        r = await http.post("/admin/queues/low/pause", data={"_csrf_token": token})
        assert r.status_code == 303
        assert "paused" in (await http.get("/admin")).text
        # A form without the CSRF token is refused and does nothing.
        r = await http.post("/admin/queues/default/pause", data={})
        assert r.status_code == 403
        r = await http.post(
            "/admin/queues/low/jobs/nope/retry",
            data={"_csrf_token": token},
            headers={"referer": "https://test/admin/queues/low"},
        )
        assert r.status_code == 303
        r = await http.post("/admin/schedule/purge-tokens/trigger", data={"_csrf_token": token})
        assert r.status_code == 303
        audit = (await http.get("/admin/audit")).text
        assert "queue.pause" in audit and "job.retry" in audit and "schedule.trigger" in audit
        assert "No failed job with this id" in audit
        assert "queue.pause" in audit and audit.count('data-testid="audit-row"') == 3
        schedule = (await http.get("/admin/schedule")).text
        assert "cron:auth.purge_expired_tokens:manual:" in schedule
