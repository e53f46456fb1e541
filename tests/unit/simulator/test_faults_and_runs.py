"""Fault decisions, config validation, run bookkeeping and URL parsing, without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.product.marketplaces import Marketplace
from simulator.actors import AXESSO, JUNGLEE, InputError, actor_for, parse_product_url
from simulator.config import SimulatorConfig
from simulator.faults import DataFaults, ItemFault, TransportFaults, item_fault
from simulator.formats import Omission
from simulator.runs import RunOptions, RunStore, start_run

URLS = [f"https://www.amazon.com/dp/B0RUN{i:05d}" for i in range(400)]


def test_no_rates_no_faults() -> None:
    assert {item_fault("r", i, DataFaults()) for i in range(500)} == {
        (ItemFault.NONE, Omission.NONE)
    }


def test_item_faults_are_deterministic_per_run_and_follow_the_rates() -> None:
    faults = DataFaults(blocked_rate=0.2, missing_fields_rate=0.2, missing_asin_rate=0.2)
    first = [item_fault("run-a", i, faults) for i in range(2000)]
    assert first == [item_fault("run-a", i, faults) for i in range(2000)]
    assert first != [item_fault("run-b", i, faults) for i in range(2000)]
    kinds = [fault for fault, _ in first]
    assert 300 <= kinds.count(ItemFault.ABSENT) <= 500
    assert 220 <= kinds.count(ItemFault.BLOCKED) <= 420
    assert 180 <= kinds.count(ItemFault.PARTIAL) <= 380
    assert {om for f, om in first if f is ItemFault.PARTIAL} == {
        Omission.PRICE,
        Omission.BSR,
        Omission.TITLE,
    }


def test_transport_faults_are_seeded_and_counted() -> None:
    a, b = TransportFaults(7), TransportFaults(7)
    draws = [a.pick(0.2, 0.3) for _ in range(1000)]
    assert draws == [b.pick(0.2, 0.3) for _ in range(1000)]
    assert 150 <= draws.count(429) <= 250
    assert 230 <= sum(1 for d in draws if d and d >= 500) <= 370
    assert a.injected[429] == draws.count(429)
    assert TransportFaults(7).pick(0.0, 0.0) is None


def test_config_is_validated() -> None:
    config = SimulatorConfig()
    assert config.updated(rate_429=0.5).rate_429 == 0.5
    assert config.rate_429 == 0.0  # immutable: updates are copies
    with pytest.raises(ValidationError):
        config.updated(rate_5xx=1.5)
    with pytest.raises(ValidationError):
        config.updated(no_such_knob=1)


def test_caps_on_items_and_charge() -> None:
    config = SimulatorConfig(price_per_item_usd=0.01)
    assert start_run(AXESSO, URLS, RunOptions(), config, 0).total == 400
    assert start_run(AXESSO, URLS, RunOptions(max_items=150), config, 0).total == 150
    capped = start_run(AXESSO, URLS, RunOptions(max_total_charge_usd=1.234), config, 0)
    assert capped.total == 123
    assert "maxTotalChargeUsd" in capped.status_message


def test_missing_asins_are_left_out_of_the_dataset() -> None:
    run = start_run(AXESSO, URLS, RunOptions(), SimulatorConfig(missing_asin_rate=0.25), 0)
    assert 60 <= len(URLS) - run.total <= 140
    present = {item["asin"] for item in run.items(0, 1000, run.total, desc=False)}
    assert len(present) == run.total
    assert present < {url.rsplit("/", 1)[1] for url in URLS}


def test_a_running_run_fills_its_dataset_progressively() -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    run = start_run(AXESSO, URLS, RunOptions(), SimulatorConfig(run_duration_s=10), 0, start)
    assert run.status(start) == "RUNNING"
    assert run.item_count(start) == 0
    assert run.item_count(start + timedelta(seconds=5)) == 200
    assert run.status(start + timedelta(seconds=10)) == "SUCCEEDED"
    assert run.item_count(start + timedelta(seconds=11)) == 400
    assert run.to_api(start, starting=True)["status"] == "RUNNING"


def test_run_timeout_and_failure() -> None:
    timed = start_run(
        AXESSO, URLS, RunOptions(timeout_secs=5), SimulatorConfig(run_duration_s=10), 0
    )
    assert (timed.outcome, timed.total) == ("TIMED-OUT", 200)
    failed = start_run(AXESSO, URLS, RunOptions(), SimulatorConfig(failed_run_rate=1.0), 0)
    assert (failed.outcome, failed.total) == ("FAILED", 200)


def test_run_store_forgets_the_oldest() -> None:
    store = RunStore(max_runs=3)
    runs = [start_run(AXESSO, URLS[:1], RunOptions(), SimulatorConfig(), 0) for _ in range(5)]
    for run in runs:
        store.add(run)
    assert [r.run_id for r in store.all()] == [r.run_id for r in runs[2:]]
    assert store.get(runs[0].run_id) is None
    assert store.by_dataset(runs[0].dataset_id) is None
    assert store.by_dataset(runs[4].dataset_id) is runs[4]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.amazon.com/dp/B0D2XRXNGY", (Marketplace.US, "B0D2XRXNGY")),
        ("https://www.amazon.co.uk/Name/dp/B0D2XRXNGY/ref=x?psc=1", (Marketplace.UK, "B0D2XRXNGY")),
        ("https://amazon.de/gp/product/b0d2xrxngy", (Marketplace.DE, "B0D2XRXNGY")),
        ("https://www.example.com/dp/B0D2XRXNGY", (None, "B0D2XRXNGY")),
        ("https://www.amazon.co.jp/s?k=dp", (Marketplace.JP, None)),
        ("not a url", (None, None)),
    ],
)
def test_product_urls(url: str, expected: tuple[Marketplace | None, str | None]) -> None:
    assert parse_product_url(url) == expected


def test_actor_references_and_inputs() -> None:
    assert actor_for("axesso_data~amazon-product-details-scraper") is AXESSO
    assert actor_for("junglee/amazon-crawler") is JUNGLEE
    assert actor_for(JUNGLEE.actor_id) is JUNGLEE
    assert actor_for("someone~else") is None
    assert AXESSO.input_urls({"urls": ["a"]}) == ["a"]
    assert JUNGLEE.input_urls({"categoryOrProductUrls": [{"url": "a"}, "b"]}) == ["a", "b"]
    with pytest.raises(InputError):
        AXESSO.input_urls({"categoryOrProductUrls": [{"url": "a"}]})
    with pytest.raises(InputError):
        JUNGLEE.input_urls({"categoryOrProductUrls": [{"href": "a"}]})
