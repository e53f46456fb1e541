"""The admin dashboard in headless Chromium against real gateway and worker processes:
every page renders at laptop and phone widths without console errors (screenshots kept in
tests/artifacts/admin/), pausing a queue works from the page, and a failed job's traceback is
found from the queue view."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, async_playwright

from cli.admin import create_admin
from scheduler.cron import schedule_entries
from services.admin.queues import publish_schedule
from services.core.embedded import free_port
from services.core.jobs import create_arq_pool
from services.core.settings import Settings
from tests.e2e.conftest import Stack
from tests.e2e.test_admin_queues import WORKER_ENV, eventually

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.asyncio,
    pytest.mark.e2e,
    pytest.mark.timeout(300),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason="Chromium is not installed (apt-get install chromium)"
    ),
]
PASSWORD = "a-Strong-passw0rd"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "admin"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORTS = {"laptop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
PAGES = {
    "queues": "/admin",
    "jobs-failed": "/admin/queues/default?state=failed",
    "jobs-completed": "/admin/queues/low?state=completed",
    "dead-letters": "/admin/dead-letters",
    "workers": "/admin/workers",
    "schedule": "/admin/schedule",
    "redis": "/admin/redis",
    "costs": "/admin/costs",
    "audit": "/admin/audit",
}


def watch(page: Page, device: str, errors: list[str]) -> None:
    """Collect the page's console errors and uncaught exceptions."""
    page.on(
        "console",
        lambda m: errors.append(f"{device} {page.url}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: errors.append(f"{device} {page.url}: {e}"))


async def sign_in(page: Page, base: str) -> None:
    await page.goto(f"{base}/login?next=/admin")
    await page.fill("#f-email", "ops@example.com")
    await page.fill("#f-password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/admin")


async def test_admin_pages_in_chromium(stack: Stack, settings: Settings) -> None:
    await asyncio.to_thread(ARTIFACTS.mkdir, parents=True, exist_ok=True)
    await create_admin(settings, "ops@example.com", PASSWORD)
    pool = await create_arq_pool(settings)
    await publish_schedule(pool, schedule_entries(settings))  # as a running scheduler does
    await pool.aclose()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    page_env = {
        **WORKER_ENV,
        "SHELFWATCH_WEB__COOKIE_SECURE": "false",  # plain HTTP on 127.0.0.1 in this test
        "SHELFWATCH_HTTP__ANONYMOUS_RATE_PER_MINUTE": "1000",
    }
    stack.start("gateway", "gateway", "--port", str(port), extra_env=page_env)
    stack.start("worker", "worker", extra_env=WORKER_ENV)
    stack.wait_port("gateway", port, 90)

    async with httpx.AsyncClient(base_url=base) as api:
        r = await api.post(
            "/api/v1/auth/login", json={"email": "ops@example.com", "password": PASSWORD}
        )
        api.headers["Authorization"] = f"Bearer {r.json()['access_token']}"

        async def workers_up() -> Any:
            rows = (await api.get("/api/v1/admin/workers")).json()
            return [w for w in rows if w["alive"]]

        await eventually(workers_up, "worker up", 90)
        for body in (
            {"queue": "low", "count": 40, "sleep_ms": 20},
            {"queue": "default", "count": 3, "fail": "permanent", "fail_for_s": 600},
            {"queue": "critical", "count": 2, "fail": "transient", "fail_for_s": 600},
        ):
            assert (await api.post("/api/v1/admin/probes", json=body)).status_code == 202

        async def settled() -> bool:
            rows = {q["name"]: q for q in (await api.get("/api/v1/admin/queues")).json()}
            return bool(
                rows["low"]["completed"] >= 40
                and rows["default"]["failed"] >= 3
                and rows["critical"]["archived"] >= 2
            )

        await eventually(settled, "probes settled", 90)

    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            for device, viewport in VIEWPORTS.items():
                context = await browser.new_context(viewport=viewport)  # type: ignore[arg-type]
                page = await context.new_page()
                watch(page, device, errors)
                await sign_in(page, base)
                for name, path in PAGES.items():
                    await page.goto(base + path)
                    await page.wait_for_load_state("networkidle")
                    assert await page.locator("h1").count() >= 1, path
                    await page.screenshot(
                        path=str(ARTIFACTS / f"{name}-{device}.png"), full_page=True
                    )
                # A failed job's traceback, found from the queue view.
                await page.goto(base + "/admin/queues/default?state=failed")
                await page.locator("td a").first.click()
                traceback = page.get_by_test_id("traceback")
                assert "ProbeFailed" in await traceback.inner_text()
                await page.screenshot(path=str(ARTIFACTS / f"job-{device}.png"), full_page=True)
                # An archived job's page.
                await page.goto(base + "/admin/dead-letters")
                await page.locator("td a.mono").first.click()
                assert "TransientError" in await page.get_by_test_id("traceback").inner_text()
                await page.screenshot(
                    path=str(ARTIFACTS / f"dead-letter-{device}.png"), full_page=True
                )
                await context.close()

            # Pausing from the page: the card says so, and so does the audit log.
            context = await browser.new_context(viewport=VIEWPORTS["laptop"])  # type: ignore[arg-type]
            page = await context.new_page()
            watch(page, "laptop", errors)
            await sign_in(page, base)
            await page.get_by_test_id("pause-low").click()
            await page.wait_for_url(f"{base}/admin")
            card = page.get_by_test_id("queue-low")
            assert "paused" in await card.inner_text()
            # The live refresh keeps the card current without a reload.
            started = time.monotonic()
            await asyncio.sleep(3.5)
            assert time.monotonic() - started >= 3.5
            assert "Resume low" in await card.inner_text()
            # ...and redraws the three throughput charts after each refresh.
            assert await page.locator(".qchart canvas").count() == 3
            await page.goto(base + "/admin/audit")
            assert "queue.pause" in await page.locator("table").inner_text()
            await page.screenshot(path=str(ARTIFACTS / "audit-after-pause.png"), full_page=True)
            await context.close()
        finally:
            await browser.close()
    assert errors == []
