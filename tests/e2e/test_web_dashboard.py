"""The seller dashboard in Debian's Chromium against real gateway, worker, scheduler and
Apify-simulator processes: the whole seller journey, a second seller who sees none of it,
CSRF refusal, no request to another origin, no console error, and screenshots of every main
page at laptop and phone widths (tests/artifacts/screenshots/)."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from services.core.embedded import free_port
from tests.e2e.conftest import ROOT, Stack
from tests.integration.alerts.conftest import Receiver, receiver  # noqa: F401 (fixture)
from tests.integration.conftest import PASSWORD

pytestmark = [pytest.mark.asyncio, pytest.mark.e2e, pytest.mark.timeout(420)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CHROMIUM_PRESENT = Path(CHROMIUM).exists()
SCREENSHOTS = ROOT / "tests" / "artifacts" / "screenshots"
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
ASINS = ("B000E2E002", "B000E2E004", "B000E2E001")


@dataclass
class Watch:
    """Everything the pages asked for and complained about, for the whole test."""

    base: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed_assets: list[str] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> None:
        context.on("request", lambda r: self.requests.append(r.url))
        context.on("response", self._response)
        context.on("page", self._page)

    def _response(self, response: Any) -> None:
        # Pages answer 4xx on purpose (form errors, another seller's product); every script,
        # style sheet, image or fetch must load.
        if response.status >= 400 and response.request.resource_type != "document":
            self.failed_assets.append(f"{response.status} {response.url}")

    def _console(self, message: Any) -> None:
        # Chromium reports each 4xx document as "Failed to load resource"; those are the
        # deliberate answers above, checked by _response for everything else.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def _page(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def foreign(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(self.base)]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM_PRESENT:
        pytest.fail("Chromium is missing: apt-get install -y chromium (see README)")
    async with async_playwright() as p:
        chromium = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


def start_stack(stack: Stack, with_worker: bool = True) -> str:
    port = free_port()
    stack.env.update(
        {
            # A seller asks for a refresh right after a crawl; the simulator changes day.
            "SHELFWATCH_APIFY__FRESHNESS_WINDOW_S": "0",
            # One test IP drives two sellers' pages quickly; the page rate is per IP.
            "SHELFWATCH_HTTP__ANONYMOUS_RATE_PER_MINUTE": "1000",
            "SHELFWATCH_ALERTS__ALLOW_PRIVATE_TARGETS": "true",
            # The scheduler plans every minute, so products added mid-test get their first
            # crawl on the next minute without waiting for the default 5-minute cycle.
            "SHELFWATCH_CRAWL__PLAN_INTERVAL_MINUTES": "1",
        }
    )
    stack.start("sim", "apify-sim", "--port", stack.env["SHELFWATCH_SIM_PORT"])
    stack.start("gateway", "gateway", "--port", str(port))
    if with_worker:
        stack.start("worker", "worker")
        stack.start("scheduler", "scheduler")
    stack.wait_port("sim", int(stack.env["SHELFWATCH_SIM_PORT"]), 60)
    stack.wait_port("gateway", port, 90)
    return f"http://127.0.0.1:{port}"


async def eventually(check: Callable[[], Awaitable[Any]], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
    raise AssertionError(f"{what} did not happen within {timeout_s}s")


async def sign_up(page: Page, base: str, email: str) -> None:
    await page.goto(f"{base}/signup")
    await page.get_by_label("Work email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page).to_have_url(f"{base}/products")


async def screenshot_all(context: BrowserContext, base: str, product_id: str, tag: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = await context.new_page()
    for name, path in (
        ("overview", "/"),
        ("products", "/products"),
        ("add-products", "/products/add"),
        ("product", f"/products/{product_id}"),
        ("alerts", "/alerts?show=all"),
        ("settings", "/settings"),
    ):
        response = await page.goto(base + path)
        assert response is not None and response.status == 200, path
        await page.wait_for_load_state("networkidle")
        await page.screenshot(path=str(SCREENSHOTS / f"{name}-{tag}.png"), full_page=True)
        # Nothing may stick out sideways at this width.
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{path} is {overflow}px wider than the {tag} screen"
    await page.close()


async def test_seller_journey_in_a_real_browser(
    stack: Stack,
    browser: Browser,
    receiver: Receiver,  # noqa: F811
) -> None:
    base = start_stack(stack)
    sim = f"http://127.0.0.1:{stack.env['SHELFWATCH_SIM_PORT']}"
    watch = Watch(base)
    context = await browser.new_context(viewport=LAPTOP)
    watch.attach(context)
    page = await context.new_page()
    started = time.monotonic()

    # Sign up: a bad password is explained next to the field, then a good one signs in.
    await page.goto(f"{base}/signup")
    await expect(page.get_by_text("At least 10 characters")).to_be_visible()
    await page.get_by_label("Work email").fill("first@shop.example")
    await page.get_by_label("Password").fill("short")
    await page.get_by_role("button", name="Create account").click()
    await expect(page.locator("#e-password")).to_contain_text("at least 10 characters")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page).to_have_url(f"{base}/products")
    await expect(page.get_by_text("You are not tracking any product yet")).to_be_visible()

    # A single add with a bad ASIN shows the field error.
    await page.goto(f"{base}/products/add")
    await page.locator("#f-product").fill("not-a-product")
    await page.get_by_role("button", name="Track product").click()
    await expect(page.locator("#e-product")).to_be_visible()

    # Bulk add: three ASINs and a bad line, each line's result shown.
    await page.locator("#f-lines").fill("\n".join([*ASINS, "definitely-not-an-asin"]))
    await page.get_by_role("button", name="Add all").click()
    result = page.locator("#bulk-result")
    await expect(result).to_contain_text("3 tracked")
    await expect(result).to_contain_text("1 refused")
    links = await result.locator("a[href^='/products/']").evaluate_all(
        "els => els.map(e => e.getAttribute('href'))"
    )
    ids = [str(h).rsplit("/", 1)[1] for h in links]
    assert len(ids) == 3

    # The running scheduler's next cycle crawls them: every product fills.

    async def list_filled() -> bool:
        await page.goto(f"{base}/products")
        if await page.get_by_text("waiting for first crawl").count():
            await page.wait_for_timeout(1000)
            return False
        return await page.locator("tbody tr").count() == 3

    await eventually(list_filled, 150, "the first crawl of every product")

    # The product page: thresholds tightened so the next day's moves raise alerts.
    product = f"{base}/products/{ids[0]}"
    await page.goto(product)
    await page.locator("#f-price_change_pct").fill("abc")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.locator("#e-price_change_pct")).to_be_visible()
    await page.locator("#f-price_change_pct").fill("1")
    await page.locator("#f-min_price_delta").fill("0.01")
    await page.locator("#f-bsr_change_pct").fill("1")
    await page.locator("#f-rating_drop").fill("0.1")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.get_by_text("Settings saved.")).to_be_visible()

    # The simulator moves to other days; each refresh crawls again, until an alert shows.
    alerts_box = page.locator("section[aria-labelledby='al-h'] .result-list li")
    for offset in (-12, -8, -5, -3, -1, 0):
        async with httpx.AsyncClient() as http:
            r = await http.put(f"{sim}/_sim/config", json={"day_offset": offset})
            r.raise_for_status()
        stamp = await page.locator(".product-hero").get_attribute("data-as-of")
        await page.get_by_role("button", name="Refresh now").click()
        await expect(page.locator(".flash")).to_contain_text("Refresh queued")

        async def crawled(before: str | None = stamp) -> bool:
            await page.wait_for_timeout(800)
            await page.goto(product)
            return await page.locator(".product-hero").get_attribute("data-as-of") != before

        await eventually(crawled, 45, "the refresh crawl")
        if await alerts_box.count() and await page.locator("[data-chart='price']").count():
            points = await page.evaluate(
                "JSON.parse(document.getElementById('chart-data').textContent)"
                ".charts.price.price.length"
            )
            if points >= 3:
                break
    await expect(alerts_box.first).to_be_visible()

    # The chart is interactive: hovering shows a date and a value in the product's currency.
    chart = page.locator("[data-chart='price']")
    await expect(chart.locator("canvas")).to_be_attached()
    box = await chart.bounding_box()
    assert box is not None
    tip = chart.locator(".chart-tip")
    for fraction in (0.5, 0.8, 0.3, 0.95, 0.1):
        await page.mouse.move(box["x"] + box["width"] * fraction, box["y"] + box["height"] * 0.4)
        if await tip.is_visible():
            break
    await expect(tip).to_be_visible()
    assert re.search(r"\$\d", await tip.inner_text()), await tip.inner_text()
    done_when = time.monotonic() - started
    print(f"\nsign-up to a filled price chart with an alert: {done_when:.1f}s")
    assert done_when < 120, f"took {done_when:.0f}s"

    # The list now draws that product's 30-day sparkline.
    await page.goto(f"{base}/products")
    await expect(page.locator("svg.spark").first).to_be_attached()

    # CSV export of the range.
    await page.goto(product)
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="Export CSV").click()
    download = await download_info.value
    assert (await download.path()).read_text().startswith("captured_at,")

    # Alerts inbox: read one.
    await page.goto(f"{base}/alerts")
    unread_before = await page.locator("tr.alert-row.unread").count()
    assert unread_before >= 1
    await page.locator("tr.alert-row input[name=ids]").first.check()
    await page.get_by_role("button", name="Mark selected as read").click()
    await expect(page.locator(".flash")).to_contain_text("1 alert marked as read")
    assert await page.locator("tr.alert-row.unread").count() == unread_before - 1

    # Overview: the brief ranks what is unread, each with a next step.
    await page.goto(base)
    await expect(page.locator("[data-testid=brief] li").first).to_contain_text("Next step")

    # Settings: a webhook channel, its secret shown once, and a test that arrives.
    await page.goto(f"{base}/settings")
    await page.get_by_label("Name").fill("Ops webhook")
    await page.get_by_label("Where to send").fill(receiver.url)
    await page.get_by_role("button", name="Add channel").click()
    await expect(page.locator("[data-testid=signing-secret]")).to_be_visible()
    await page.get_by_role("button", name="Send a test to Ops webhook").click()
    await expect(page.locator(".flash")).to_contain_text("Test notification queued")

    async def test_sent() -> bool:
        await page.wait_for_timeout(700)
        await page.goto(f"{base}/settings")
        return "sent" in await page.locator("[data-testid=deliveries]").inner_text()

    await eventually(test_sent, 30, "the test notification")
    assert any(b"test" in r["body"] for r in receiver.requests)

    # Screenshots of every main page at both widths (the phone shares the session).
    await screenshot_all(context, base, ids[0], "laptop")
    phone = await browser.new_context(viewport=PHONE, storage_state=await context.storage_state())
    watch.attach(phone)
    await screenshot_all(phone, base, ids[0], "phone")
    await phone.close()

    # Sign out ends the session.
    await page.goto(base)
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(f"{base}/login")
    await page.goto(f"{base}/products")
    await expect(page).to_have_url(re.compile(r"/login\?next=/products"))

    # A second seller sees none of it and cannot touch it.
    other = await browser.new_context(viewport=LAPTOP)
    watch.attach(other)
    second = await other.new_page()
    await sign_up(second, base, "second@shop.example")
    await expect(second.get_by_text("You are not tracking any product yet")).to_be_visible()
    for asin in ASINS:
        assert asin not in await second.content()
    response = await second.goto(product)
    assert response is not None and response.status == 404
    await second.goto(f"{base}/alerts")
    await expect(second.get_by_text("You are all caught up")).to_be_visible()
    await second.goto(f"{base}/settings")
    assert "Ops webhook" not in await second.content()
    token = await second.locator("input[name=_csrf_token]").first.get_attribute("value")
    assert token
    refused = await second.request.post(
        f"{product}/stop", form={"_csrf_token": token}, max_redirects=0
    )
    assert refused.status == 404

    # A form posted without the CSRF token is refused; the same form with it goes through.
    no_token = await second.request.post(
        f"{base}/products/add",
        form={"product": "B000E2E009", "marketplace": "US"},
        max_redirects=0,
    )
    assert no_token.status == 403
    with_token = await second.request.post(
        f"{base}/products/add",
        form={"_csrf_token": token, "product": "B000E2E009", "marketplace": "US"},
        max_redirects=0,
    )
    assert with_token.status == 303
    await other.close()
    await context.close()

    assert watch.foreign() == [], watch.foreign()
    assert watch.errors == [], watch.errors
    assert watch.failed_assets == [], watch.failed_assets
    assert stack.stop("scheduler") == 0
    assert stack.stop("worker") == 0


async def test_schema_renders_offline_from_local_assets(stack: Stack, browser: Browser) -> None:
    base = start_stack(stack, with_worker=False)
    watch = Watch(base)
    # No route leaves the machine: any other origin fails, as it would offline.
    context = await browser.new_context(viewport=LAPTOP)
    await context.route(re.compile(r"^(?!" + re.escape(base) + r").*"), lambda route: route.abort())
    watch.attach(context)
    page = await context.new_page()
    await page.goto(f"{base}/schema")
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("Shelfwatch")
    await expect(page.get_by_text("/api/v1/products").first).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "schema-laptop.png"))
    await context.close()
    assert watch.foreign() == [], watch.foreign()
    assert watch.errors == [], watch.errors
    assert watch.failed_assets == [], watch.failed_assets
