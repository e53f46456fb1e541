"""The Competitors and Optimization pages in Debian's Chromium against real gateway, worker,
scheduler and Apify-simulator processes: a seller creates a group, starts a report, watches it
finish (htmx polling) and reads a recommendation; opens the optimization page, sees the score
and suggestions, applies one and sees its experiment. A second seller gets 404 on each of those
pages, forms without the CSRF token are refused, no console error, no request to another
origin, and screenshots of every new page at laptop and phone widths
(tests/artifacts/screenshots/, next to the web dashboard's)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from services.core.embedded import free_port
from tests.e2e.conftest import Stack
from tests.e2e.test_web_dashboard import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LAPTOP,
    PHONE,
    SCREENSHOTS,
    eventually,
    sign_up,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.e2e, pytest.mark.timeout(600)]

OWN_ASIN = "B000E2E001"
RIVALS = ("B000E2E002", "B000E2E003", "B000E2E004", "B000E2E005")
UUID = r"[0-9a-f-]{36}"
CHROMIUM_PRESENT = Path(CHROMIUM).exists()


@dataclass
class Watch:
    """Every request the pages made and every console error, for the whole test."""

    base: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    bad_assets: list[str] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> None:
        context.on("request", lambda r: self.requests.append(r.url))
        context.on("response", self._response)
        context.on("page", self._page)

    def _response(self, response: Any) -> None:
        # Pages answered 404/422 on purpose; every script, style, image and htmx poll must load.
        if response.request.resource_type != "document" and response.status >= 400:
            self.bad_assets.append(f"{response.status} {response.url}")

    def console_errors(self) -> list[str]:
        """Errors other than Chromium's note about a page answered 4xx on purpose."""
        expected = re.compile(r"^Failed to load resource: .* status of 4\d\d ")
        return [e for e in self.errors if not expected.match(e)]

    def _page(self, page: Page) -> None:
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def foreign(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(self.base)]


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    if not CHROMIUM_PRESENT:
        pytest.fail("Chromium is missing: apt-get install -y chromium (see README)")
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        await browser.close()


def start_stack(stack: Stack) -> str:
    port = free_port()
    stack.env.update(
        {
            "SHELFWATCH_HTTP__ANONYMOUS_RATE_PER_MINUTE": "1000",
            # Every member counts as fresh once crawled, so the report does not wait on a
            # second crawl of products the scheduler has just crawled.
            "SHELFWATCH_COMPETITOR__FRESHNESS_WINDOW_S": "86400",
        }
    )
    stack.start("sim", "apify-sim", "--port", stack.env["SHELFWATCH_SIM_PORT"])
    stack.start("gateway", "gateway", "--port", str(port))
    stack.start("worker", "worker")
    stack.wait_port("sim", int(stack.env["SHELFWATCH_SIM_PORT"]), 60)
    stack.wait_port("gateway", port, 90)
    return f"http://127.0.0.1:{port}"


async def screenshots(context: BrowserContext, base: str, paths: dict[str, str], tag: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = await context.new_page()
    for name, path in paths.items():
        response = await page.goto(base + path)
        assert response is not None and response.status == 200, path
        await page.wait_for_load_state("networkidle")
        await page.screenshot(path=str(SCREENSHOTS / f"{name}-{tag}.png"), full_page=True)
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{path} is {overflow}px wider than the {tag} screen"
    await page.close()


async def test_competitor_report_and_optimization_journey(stack: Stack, chromium: Browser) -> None:
    base = start_stack(stack)
    watch = Watch(base)
    context = await chromium.new_context(viewport=LAPTOP)
    watch.attach(context)
    page = await context.new_page()
    await sign_up(page, base, "groups@shop.example")

    # Empty states say what to do next.
    await page.get_by_role("link", name="Competitors").click()
    await expect(page.get_by_text("No competitor group yet")).to_be_visible()
    await page.get_by_role("link", name="Create your first group").click()
    await expect(page.get_by_text("Track one of your own products first")).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.goto(f"{base}/competitors")
    await page.screenshot(path=str(SCREENSHOTS / "competitors-empty-laptop.png"), full_page=True)

    # One product of the seller's own, crawled by the scheduler's cycle.
    await page.goto(f"{base}/products/add")
    await page.locator("#f-product").fill(OWN_ASIN)
    await page.get_by_role("button", name="Track product").click()
    await expect(page).to_have_url(re.compile(rf"/products/{UUID}$"))
    own_id = page.url.rsplit("/", 1)[1]

    # The group: too few competitors first (the error sits at the field), then four.
    await page.goto(f"{base}/competitors/new")
    await page.get_by_label("Group name").fill("Kettles vs the field")
    await page.get_by_label("Your product").select_option(own_id)
    competitors = page.locator("#f-competitors")
    await competitors.fill(RIVALS[0])
    await page.get_by_role("button", name="Create group").click()
    await expect(page.locator("#e-competitors")).to_contain_text("3 to 5")
    await competitors.fill("\n".join(RIVALS))
    await page.get_by_role("button", name="Create group").click()
    await expect(page).to_have_url(re.compile(rf"/competitors/{UUID}$"))
    group_path = page.url.removeprefix(base)
    await expect(page.locator(".flash[role=status]")).to_contain_text("Now also tracking")
    # The scheduler plans at start-up: the seller's product and the competitors get crawled.
    stack.start("scheduler", "scheduler")

    async def compared() -> bool:
        await page.wait_for_timeout(2000)
        await page.goto(base + group_path)
        text = await page.get_by_test_id("comparison").inner_text()
        price = await page.get_by_test_id("main-price").inner_text()
        return "waiting for first crawl" not in text and "$" in price

    await eventually(compared, 240, "the first crawl of the group")

    # A report: started, its progress polled by htmx, then read.
    await page.get_by_role("button", name="Start a report").first.click()
    await expect(page).to_have_url(re.compile(rf"{group_path}/reports/{UUID}$"))
    report_path = page.url.removeprefix(base)
    # The page shows the steps until htmx sees the report finish and reloads.
    await expect(page.get_by_test_id("report-status")).to_be_visible()
    recommendations = page.get_by_test_id("recommendations")
    await expect(recommendations).to_be_visible(timeout=150_000)
    await expect(page.get_by_test_id("report-source")).to_have_text("rule_based")
    await expect(page.get_by_test_id("provenance")).to_contain_text("Rule-based report")
    first = recommendations.locator("li").first
    await expect(first.locator(".why")).to_contain_text("Why:")
    assert len(await first.locator(".what").inner_text()) > 10

    # The group page lists it among the past reports.
    await page.get_by_role("link", name="Back to the group").click()
    await expect(page.locator(f"a[href='{report_path}']")).to_be_visible()

    # Optimization from the nav: the score, then a suggestion run watched until done.
    await page.get_by_role("link", name="Optimization").click()
    await page.get_by_role("link", name=re.compile("Score and suggestions")).first.click()
    await expect(page).to_have_url(f"{base}/optimization/products/{own_id}")
    score = int(await page.get_by_test_id("score-total").inner_text())
    assert 0 <= score <= 100
    await expect(page.get_by_test_id("score-components").locator("> li")).to_have_count(6)
    await page.get_by_role("button", name="Get suggestions").click()
    await expect(page).to_have_url(re.compile(rf"/optimization/runs/{UUID}$"))
    run_path = page.url.removeprefix(base)
    suggestions = page.get_by_test_id("suggestion")
    await expect(suggestions.first).to_be_visible(timeout=90_000)
    await expect(page.get_by_test_id("rule-note")).to_contain_text("rule-based")
    count = await suggestions.count()
    assert count >= 2

    # Dismiss one from the keyboard (reason, Enter), apply another: its experiment opens.
    last = suggestions.nth(count - 1)
    await last.get_by_label("Reason to dismiss").fill("not for this brand")
    await last.get_by_label("Reason to dismiss").press("Enter")
    await expect(page.locator(".flash[role=status]")).to_contain_text("Suggestion dismissed")
    await expect(page.get_by_text("Dismissed: not for this brand")).to_be_visible()
    await suggestions.first.get_by_role("button", name=re.compile("Mark applied")).click()
    await expect(page).to_have_url(re.compile(rf"/optimization/experiments/{UUID}$"))
    experiment_path = page.url.removeprefix(base)
    await expect(page.get_by_test_id("verdict")).to_contain_text("measuring")
    await expect(page.get_by_test_id("figures")).to_contain_text("Price")
    await page.goto(f"{base}/optimization/experiments")
    await expect(page.locator(f"a[href='{experiment_path}']")).to_be_visible()

    # Every new page at both widths, nothing sticking out sideways.
    pages = {
        "competitors": "/competitors",
        "competitors-new": "/competitors/new",
        "competitor-group": group_path,
        "competitor-report": report_path,
        "optimization": "/optimization",
        "optimization-product": f"/optimization/products/{own_id}",
        "optimization-run": run_path,
        "experiments": "/optimization/experiments",
        "experiment": experiment_path,
    }
    await screenshots(context, base, pages, "laptop")
    phone = await chromium.new_context(viewport=PHONE, storage_state=await context.storage_state())
    watch.attach(phone)
    await screenshots(phone, base, pages, "phone")
    await phone.close()

    # A second seller: every one of those pages is a 404, and nothing of the first shows.
    other = await chromium.new_context(viewport=LAPTOP)
    watch.attach(other)
    second = await other.new_page()
    await sign_up(second, base, "rival@shop.example")
    for path in (
        group_path,
        report_path,
        run_path,
        experiment_path,
        f"/optimization/products/{own_id}",
    ):
        response = await second.goto(base + path)
        assert response is not None and response.status == 404, path
        await expect(second.get_by_role("heading", name="Page not found")).to_be_visible()
    await second.goto(f"{base}/competitors")
    await expect(second.get_by_text("No competitor group yet")).to_be_visible()
    token = await second.locator("input[name=_csrf_token]").first.get_attribute("value")
    assert token
    refused = await second.request.post(
        f"{base}{group_path}/delete", form={"_csrf_token": token}, max_redirects=0
    )
    assert refused.status == 404

    # Forms posted without the CSRF token are refused, by the first seller too.
    for action in (f"{group_path}/reports", f"{group_path}/delete", "/competitors/new"):
        response = await page.request.post(base + action, form={"name": "x"}, max_redirects=0)
        assert response.status == 403, action
    await page.goto(base + group_path)
    await expect(page.locator("h1")).to_have_text("Kettles vs the field")
    await other.close()
    await context.close()

    assert watch.foreign() == [], watch.foreign()
    assert watch.console_errors() == [], watch.errors
    assert watch.bad_assets == [], watch.bad_assets
    assert stack.stop("scheduler") == 0
    assert stack.stop("worker") == 0
