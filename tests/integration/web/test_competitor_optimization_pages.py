"""The Competitors and Optimization pages through the HTTP app: forms with their errors and the
quota refusal, the comparison rendered in the product's currency, reports and runs finished by
a real `low` worker and polled through their status fragments, decisions, experiments with
before/after figures and the overlap warning, another seller's 404s, and CSRF refusals."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.core.settings import Settings
from tests.factories import ingest, item, make_asin
from tests.integration.competitor.conftest import MAIN_ITEM, competitor_item
from tests.integration.conftest import PASSWORD, app_client
from tests.integration.optimization.conftest import (
    OWN,
    product_id,
    run_low_queue,
    seed_history,
    seed_seller,
)
from tests.integration.optimization.test_optimization_api import evaluate_due
from tests.integration.web.conftest import csrf_token, submit

pytestmark = pytest.mark.asyncio
MakeSeller = Callable[..., Awaitable[dict[str, str]]]
UUID = r"[0-9a-f-]{36}"


@pytest.fixture
async def other_browser(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings, base_url="https://test") as http:
        yield http


async def page_sign_in(browser: httpx.AsyncClient, email: str) -> None:
    r = await submit(browser, "/login", "/login", {"email": email, "password": PASSWORD})
    assert r.status_code == 303, r.text


async def api_seller(make_seller: MakeSeller, browser: httpx.AsyncClient) -> dict[str, str]:
    """A seller registered through the API (for seeding) and signed in on the pages."""
    email = f"pages-{make_asin('X').lower()}@example.com"
    auth = await make_seller(email)
    await page_sign_in(browser, email)
    return auth


def location_id(response: httpx.Response, prefix: str) -> str:
    assert response.status_code == 303, response.text
    match = re.fullmatch(prefix + f"({UUID})", response.headers["location"])
    assert match, response.headers["location"]
    return match.group(1)


async def crawl(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    sessionmaker: async_sessionmaker[AsyncSession],
    asins: list[str],
) -> None:
    """Fresh data for tracked competitors, as a crawl would write it."""
    rows = (await client.get("/api/v1/products?limit=100", headers=auth)).json()["items"]
    for i, asin in enumerate(asins):
        tracking = next(row for row in rows if row["asin"] == asin)
        await ingest(
            sessionmaker,
            tracking["product_id"],
            item(asin, **competitor_item(i % 4)),
            datetime.now(UTC) - timedelta(minutes=5),
        )


async def test_a_group_from_creation_to_a_read_report(
    browser: httpx.AsyncClient,
    other_browser: httpx.AsyncClient,
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sign_up: Callable[..., Awaitable[str]],
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    auth = await api_seller(make_seller, browser)
    r = await browser.get("/competitors")
    assert r.status_code == 200 and "No competitor group yet" in r.text
    assert 'href="/competitors/new"' in r.text
    r = await browser.get("/competitors/new")
    assert "Track one of your own products first" in r.text

    main_asin = make_asin("B0M")
    r = await client.post(
        "/api/v1/products", headers=auth, json={"product": main_asin, "marketplace": "US"}
    )
    main = r.json()
    await ingest(
        sessionmaker,
        main["product_id"],
        item(main_asin, **MAIN_ITEM),
        datetime.now(UTC) - timedelta(minutes=5),
    )
    rivals = [make_asin("B0C") for _ in range(5)]

    # Two competitors: refused next to the field, the values kept.
    r = await submit(
        browser,
        "/competitors/new",
        "/competitors/new",
        {"name": "Headphones", "main_tracked_product_id": main["id"], "competitors": rivals[0]},
    )
    assert r.status_code == 422
    assert 'id="e-competitors"' in r.text and "3 to 5" in r.text
    # The main product as its own competitor names the line.
    r = await submit(
        browser,
        "/competitors/new",
        "/competitors/new",
        {
            "name": "Headphones",
            "main_tracked_product_id": main["id"],
            "competitors": "\n".join([main_asin, *rivals[1:3]]),
        },
    )
    assert r.status_code == 422 and f"{main_asin}: is the main product itself" in r.text

    r = await submit(
        browser,
        "/competitors/new",
        "/competitors/new",
        {
            "name": "Headphones",
            "main_tracked_product_id": main["id"],
            "competitors": "\n".join(rivals[:4]),
        },
    )
    group_id = location_id(r, "/competitors/")
    page = await browser.get(f"/competitors/{group_id}")
    assert "Now also tracking" in page.text
    await crawl(client, auth, sessionmaker, rivals[:4])

    # The comparison: prices and gaps in dollars, the shared subcategory, claims.
    page = await browser.get(f"/competitors/{group_id}")
    assert page.status_code == 200
    html = page.text
    assert "$25.00" in html and "$20.00" in html and "+$5.00" in html
    assert "rank 2 of 5" in html
    assert "Open-Ear Headphones" in html  # the shared subcategory, named
    assert "Shop0" in html  # a Buy Box holder
    assert "Claims competitors make that you don't" in html
    assert "battery" in html.lower()

    # Rename (a blank name is refused), add a fifth, remove one, delete refuses nothing.
    r = await submit(browser, page.url.path, f"/competitors/{group_id}/rename", {"name": " "})
    assert r.status_code == 422 and 'id="e-name"' in r.text
    r = await submit(browser, page.url.path, f"/competitors/{group_id}/rename", {"name": "Ears"})
    assert r.status_code == 303
    r = await submit(
        browser, page.url.path, f"/competitors/{group_id}/members", {"competitors": rivals[0]}
    )
    assert r.status_code == 422 and "already in this group" in r.text
    r = await submit(
        browser, page.url.path, f"/competitors/{group_id}/members", {"competitors": rivals[4]}
    )
    assert r.status_code == 303
    await crawl(client, auth, sessionmaker, rivals[4:])
    page = await browser.get(f"/competitors/{group_id}")
    assert "<h1>Ears</h1>" in page.text and rivals[4] in page.text
    assert "The group is full" in page.text
    removed = re.search(rf"/competitors/{group_id}/members/({UUID})/remove", page.text)
    assert removed
    r = await browser.post(removed.group(0), data={"_csrf_token": csrf_token(page.text)})
    assert r.status_code == 303

    # A report: started, polled while queued, finished by a real worker, then read.
    r = await submit(browser, page.url.path, f"/competitors/{group_id}/reports", {})
    report_id = location_id(r, f"/competitors/{group_id}/reports/")
    report_path = f"/competitors/{group_id}/reports/{report_id}"
    page = await browser.get(report_path)
    assert f'hx-get="{report_path}/status"' in page.text and "every 2s" in page.text
    fragment = await browser.get(f"{report_path}/status", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "HX-Refresh" not in fragment.headers
    assert "<html" not in fragment.text and 'data-status="queued"' in fragment.text
    # Starting again while it runs shows the same report.
    r = await submit(browser, f"/competitors/{group_id}", f"/competitors/{group_id}/reports", {})
    assert r.headers["location"] == report_path
    await run_low_queue(settings)
    fragment = await browser.get(f"{report_path}/status", headers={"HX-Request": "true"})
    assert fragment.headers["HX-Refresh"] == "true"
    page = await browser.get(report_path)
    assert "hx-get" not in page.text.split("<main")[1]
    assert "Rule-based report" in page.text and "rule_based" in page.text
    assert "Recommendations, by priority" in page.text
    assert page.text.count('<span class="prio"') >= 3
    assert "Strengths" in page.text and "Threats" in page.text
    group_page = await browser.get(f"/competitors/{group_id}")
    assert report_path in group_page.text  # listed among past reports

    # Another seller: every page and action of this group is a 404.
    await sign_up_other(other_browser)
    for path in (
        f"/competitors/{group_id}",
        report_path,
        f"{report_path}/status",
    ):
        assert (await other_browser.get(path)).status_code == 404, path
    token = csrf_token((await other_browser.get("/competitors")).text)
    for action, data in (
        (f"/competitors/{group_id}/rename", {"name": "mine now"}),
        (f"/competitors/{group_id}/members", {"competitors": make_asin("B0C")}),
        (f"/competitors/{group_id}/reports", {}),
        (f"/competitors/{group_id}/delete", {}),
    ):
        r = await other_browser.post(action, data={"_csrf_token": token, **data})
        assert r.status_code == 404, action
    assert "No competitor group yet" in (await other_browser.get("/competitors")).text

    # Without the CSRF token nothing is done.
    r = await browser.post(f"/competitors/{group_id}/delete", data={})
    assert r.status_code == 403
    r = await submit(browser, "/competitors", f"/competitors/{group_id}/delete", {})
    assert r.status_code == 303 and r.headers["location"] == "/competitors"
    assert "No competitor group yet" in (await browser.get("/competitors")).text


async def sign_up_other(other: httpx.AsyncClient) -> None:
    email = f"other-{make_asin('X').lower()}@example.com"
    r = await submit(other, "/signup", "/signup", {"email": email, "password": PASSWORD})
    assert r.status_code == 303


async def test_the_quota_refusal_shows_its_numbers(
    browser: httpx.AsyncClient,
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
) -> None:
    auth = await api_seller(make_seller, browser)
    r = await client.post(
        "/api/v1/products", headers=auth, json={"product": make_asin("B0M"), "marketplace": "US"}
    )
    main_id = r.json()["id"]
    items = [{"product": make_asin("B0Q"), "marketplace": "US"} for _ in range(22)]
    r = await client.post("/api/v1/products/bulk", headers=auth, json={"items": items})
    assert r.json()["tracked"] == 22
    r = await submit(
        browser,
        "/competitors/new",
        "/competitors/new",
        {
            "name": "Too many",
            "main_tracked_product_id": main_id,
            "competitors": "\n".join(make_asin("B0C") for _ in range(4)),
        },
    )
    assert r.status_code == 422
    assert "This needs 4 more tracked product(s): your plan tracks at most 25 and 23" in r.text


async def test_optimization_score_suggestions_decisions_and_experiments(
    browser: httpx.AsyncClient,
    other_browser: httpx.AsyncClient,
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    email = f"opt-{make_asin('X').lower()}@example.com"

    async def seller(_: str | None = None) -> dict[str, str]:
        return await make_seller(email)

    seeded = await seed_seller(client, seller, sessionmaker)
    await page_sign_in(browser, email)
    tid = seeded.tracking_id

    r = await browser.get("/optimization")
    assert r.status_code == 200 and f"/optimization/products/{tid}" in r.text
    assert "No experiment yet" in r.text
    product_page = await browser.get(f"/products/{tid}")
    assert f'href="/optimization/products/{tid}"' in product_page.text
    page = await browser.get(f"/optimization/products/{tid}")
    assert page.status_code == 200
    total = re.search(r'data-testid="score-total">(\d+)<', page.text)
    assert total and 0 <= int(total.group(1)) < 100
    assert "Title" in page.text and "Price position" in page.text
    assert "No suggestions yet" in page.text

    r = await submit(browser, page.url.path, f"/optimization/products/{tid}/runs", {})
    run_id = location_id(r, "/optimization/runs/")
    run_path = f"/optimization/runs/{run_id}"
    page = await browser.get(run_path)
    assert f'hx-get="{run_path}/status"' in page.text
    await run_low_queue(settings)
    fragment = await browser.get(f"{run_path}/status", headers={"HX-Request": "true"})
    assert fragment.headers["HX-Refresh"] == "true"
    page = await browser.get(run_path)
    assert "Suggestions are rule-based" in page.text
    ids = re.findall(rf'id="s-({UUID})"', page.text)
    assert len(ids) >= 3
    assert "$29.99" in page.text  # the pricing proposal in the product's currency

    # Dismiss needs a reason; accept; apply starts an experiment.
    r = await submit(
        browser, run_path, f"/optimization/suggestions/{ids[0]}/dismiss", {"back": run_path}
    )
    assert r.status_code == 303
    page = await browser.get(run_path)
    assert "Say why you dismiss" in page.text
    r = await submit(
        browser,
        run_path,
        f"/optimization/suggestions/{ids[0]}/dismiss",
        {"reason": "brand rules", "back": run_path},
    )
    assert r.status_code == 303
    r = await submit(
        browser, run_path, f"/optimization/suggestions/{ids[1]}/accept", {"back": run_path}
    )
    assert r.status_code == 303
    page = await browser.get(run_path)
    assert "Dismissed: brand rules" in page.text
    # Seeded days around a live date 20 days ago, then applied as of that date.
    live = (datetime.now(UTC) - timedelta(days=20)).replace(minute=0, second=0, microsecond=0)
    await seed_history(
        sessionmaker,
        await product_id(sessionmaker, OWN),
        live,
        before_rank=1000,
        after_rank=620,
        days_after=16,
    )
    r = await submit(
        browser,
        run_path,
        f"/optimization/suggestions/{ids[1]}/apply",
        {"live_at": live.strftime("%Y-%m-%dT%H:%M"), "back": run_path},
    )
    experiment_id = location_id(r, "/optimization/experiments/")
    page = await browser.get(f"/optimization/experiments/{experiment_id}")
    assert "Baseline recorded" in page.text and "Mann" in page.text
    # A second change in the same windows: both say their effects cannot be told apart.
    r = await submit(
        browser,
        run_path,
        f"/optimization/suggestions/{ids[2]}/apply",
        {"live_at": (live + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"), "back": run_path},
    )
    second_id = location_id(r, "/optimization/experiments/")
    # A bad date is refused with a message, nothing applied.
    r = await submit(
        browser,
        run_path,
        f"/optimization/suggestions/{ids[0]}/apply",
        {"live_at": "yesterday", "back": run_path},
    )
    assert r.status_code == 303 and r.headers["location"].startswith(run_path)
    assert "Give the date the change went live" in (await browser.get(run_path)).text

    await evaluate_due(settings)
    page = await browser.get(f"/optimization/experiments/{experiment_id}")
    assert "Before and after" in page.text
    assert "Subcategory BSR" in page.text
    assert re.search(r"#(9\d\d|1,0\d\d)<", page.text)  # the baseline's mean rank, ~1000
    assert re.search(r"#6\d\d<", page.text)  # after the change, ~620
    assert "Improved" in page.text
    assert "cannot be told apart" in page.text and second_id in page.text
    listing = await browser.get("/optimization/experiments?status=evaluated")
    assert experiment_id in listing.text
    assert "overlaps" in (await browser.get(f"/optimization/products/{tid}")).text

    # Another seller: 404 on every page and action; no CSRF token: 403.
    await sign_up_other(other_browser)
    for path in (
        f"/optimization/products/{tid}",
        run_path,
        f"{run_path}/status",
        f"/optimization/experiments/{experiment_id}",
    ):
        assert (await other_browser.get(path)).status_code == 404, path
    assert experiment_id not in (await other_browser.get("/optimization/experiments")).text
    token = csrf_token((await other_browser.get("/optimization")).text)
    for action in (
        f"/optimization/products/{tid}/runs",
        f"/optimization/suggestions/{ids[0]}/accept",
        f"/optimization/suggestions/{ids[0]}/dismiss",
        f"/optimization/suggestions/{ids[0]}/apply",
    ):
        r = await other_browser.post(action, data={"_csrf_token": token, "reason": "x"})
        assert r.status_code == 404, action
    r = await browser.post(f"/optimization/products/{tid}/runs", data={})
    assert r.status_code == 403


async def test_llm_report_and_suggestions_show_model_prompt_tokens_and_cost(
    client: httpx.AsyncClient,
    make_seller: MakeSeller,
    sessionmaker: async_sessionmaker[AsyncSession],
    llm_settings: Settings,
) -> None:
    """With an API key (the bundled OpenAI stand-in) the pages say `llm` and show the model,
    prompt version, tokens and cost instead of the rule-based notice."""
    async with app_client(llm_settings, base_url="https://test") as browser:
        email = f"llm-{make_asin('X').lower()}@example.com"

        async def seller(_: str | None = None) -> dict[str, str]:
            return await make_seller(email)

        seeded = await seed_seller(client, seller, sessionmaker)
        await page_sign_in(browser, email)
        tid = seeded.tracking_id

        # A group of the seeded product and its three tracked competitors, through the page.
        r = await submit(
            browser,
            "/competitors/new",
            "/competitors/new",
            {
                "name": "LLM",
                "main_tracked_product_id": tid,
                "competitors": "B0OPTCMP01\nB0OPTCMP02\nB0OPTCMP03",
            },
        )
        group_id = location_id(r, "/competitors/")
        r = await submit(
            browser, f"/competitors/{group_id}", f"/competitors/{group_id}/reports", {}
        )
        report_path = r.headers["location"]
        r = await submit(
            browser, f"/optimization/products/{tid}", f"/optimization/products/{tid}/runs", {}
        )
        run_path = r.headers["location"]
        await run_low_queue(llm_settings)

        page = await browser.get(report_path)
        assert 'data-testid="report-source">llm<' in page.text
        assert "Written by an LLM" in page.text and "prompt version" in page.text
        assert re.search(r"[1-9][\d,]* input tokens", page.text)
        assert "Rule-based report" not in page.text
        page = await browser.get(run_path)
        assert "Suggestions are rule-based" not in page.text
        assert 'data-testid="run-usage"' in page.text and "prompt version" in page.text
        assert 'source <span class="tag tag-llm">llm</span>' in page.text
