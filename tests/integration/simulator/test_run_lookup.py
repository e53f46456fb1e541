"""Finding a run again after its start answer was lost: the actor's run list and each run's
INPUT record, through the real apify-client, as on Apify."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from apify_client import ApifyClientAsync

from simulator.server import SimulatorServer

pytestmark = pytest.mark.asyncio

AXESSO = "axesso_data/amazon-product-details-scraper"
JUNGLEE = "junglee/amazon-crawler"


async def test_an_actors_runs_are_listed_with_filters_and_their_input_is_kept(
    client: ApifyClientAsync, simulator: SimulatorServer
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    first_input = {"urls": ["https://www.amazon.com/dp/B0SIM00001"]}
    first = await client.actor(AXESSO).start(run_input=first_input)
    await asyncio.sleep(0.05)
    middle = datetime.now(UTC)
    await asyncio.sleep(0.05)
    second = await client.actor(AXESSO).start(
        run_input={"urls": ["https://www.amazon.com/dp/B0SIM00002"]}
    )
    await client.actor(JUNGLEE).start(
        run_input={"categoryOrProductUrls": [{"url": "https://www.amazon.com/dp/B0SIM00003"}]}
    )

    listed = await client.actor(AXESSO).runs().list(started_after=before)
    assert [r.id for r in listed.items] == [first.id, second.id]  # this actor's, oldest first
    assert listed.total == 2
    newest = await client.actor(AXESSO).runs().list(desc=True, limit=1)
    assert [r.id for r in newest.items] == [second.id]
    later = await client.actor(AXESSO).runs().list(started_after=middle)
    assert [r.id for r in later.items] == [second.id]
    earlier = await client.actor(AXESSO).runs().list(started_before=middle)
    assert [r.id for r in earlier.items] == [first.id]

    record = await client.key_value_store(listed.items[0].default_key_value_store_id).get_record(
        "INPUT"
    )
    assert record is not None
    assert record["value"] == first_input
    store = client.key_value_store(listed.items[0].default_key_value_store_id)
    assert await store.get_record("OUTPUT") is None
    assert await client.key_value_store("kvNoSuchStore00").get_record("INPUT") is None
