"""/metrics in Prometheus' text format: intake, routing, sockets, group commits, channels; who may read it."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from channels.types import InboundContact, IntakeUnavailable
from crm_store.ingest import Ingestor
from crm_store.types import Role
from gateway.attachments import AttachmentStore
from gateway.intake import Intake
from gateway.keys import ENGINE
from gateway.metrics import Metrics
from support.screens import screen

FORMS = {"forms": {"busy": {"rate_per_minute": 100000, "burst": 1000}},
         "routing": {"queues": {"default": {"offer_timeout": 30, "owner_wait_seconds": 0}}}}


def sample(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


async def scrape(api, **headers: str) -> str:  # type: ignore[no-untyped-def]
    response = await api.client.get("/metrics", headers=headers)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return await response.text()


async def eventually(api, name: str, value: float, **labels: str) -> str:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(60):
        while sample(text := await scrape(api), name, **labels) != value:
            await asyncio.sleep(0.02)
    return text


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return FORMS


async def test_intake_counts_accepted_and_duplicate_per_channel_with_latency_and_batch_sizes(api):
    before = await scrape(api)
    assert sample(before, "switchboard_ingested_events_total") == 0          # the long-standing names stay
    assert sample(before, "switchboard_intake_events_total", channel="form", result="accepted") is None
    for _ in range(2):
        response = await api.client.post("/forms/busy", data={"phone": "+79123456789"},
                                          headers={"Idempotency-Key": "same-post"})
        assert response.status in (200, 201)
    await api.client.post("/forms/busy", data={"phone": "+79123456780"})
    text = await scrape(api)
    assert sample(text, "switchboard_intake_events_total", channel="form", result="accepted") == 2
    assert sample(text, "switchboard_intake_events_total", channel="form", result="duplicate") == 1
    assert sample(text, "switchboard_intake_seconds_count", channel="form") == 3
    assert sample(text, "switchboard_ingest_batch_size_sum") == 3            # every event in some commit
    assert sample(text, "switchboard_ingest_batch_size_count") == sample(text, "switchboard_ingest_commits_total")
    assert sample(text, "switchboard_ingested_events_total") == 3
    assert sample(text, "switchboard_http_requests_total", method="POST", route="/forms/{form_key}", status="201") == 3
    # The SQLite writer's own thread: its CPU is what the intake costs it (bench/ingest.py divides it by the leads).
    writer_cpu = sample(text, "switchboard_ingest_writer_cpu_seconds_total")
    if api.client.app[ENGINE].dialect.name == "sqlite":
        assert writer_cpu is not None and writer_cpu > 0
        # ... and by step: the form posts' intake and the group commits.
        intake_cpu = sample(text, "switchboard_ingest_writer_cpu_seconds_by_step_total", step="intake")
        commit_cpu = sample(text, "switchboard_ingest_writer_cpu_seconds_by_step_total", step="commit")
        assert intake_cpu is not None and intake_cpu > 0 and commit_cpu is not None and commit_cpu > 0
    else:
        assert writer_cpu is None
        assert sample(text, "switchboard_ingest_writer_cpu_seconds_by_step_total", step="intake") is None


async def test_a_refused_contact_is_counted_as_refused(api, tmp_path: Path):
    metrics = Metrics()
    stopped = Ingestor(api.client.app[ENGINE])          # never started: the store is "unavailable"
    intake = Intake(stopped, AttachmentStore(tmp_path), metrics=metrics)
    contact = InboundContact("telegram", "1", "chat-1", datetime.now(UTC), text="hi")
    with pytest.raises(IntakeUnavailable):
        await intake.emit(contact)
    assert metrics.intake.labels("telegram", "refused")._value.get() == 1
    assert metrics.intake.labels("telegram", "accepted")._value.get() == 0


async def test_routing_offers_by_outcome_waiting_decisions_and_sockets(api):
    await api.add_user("olga", Role.MANAGER)
    assert sample(await scrape(api), "switchboard_websocket_connections") == 0
    await api.client.post("/forms/busy", data={"phone": "+79123456789"})
    text = await eventually(api, "switchboard_routing_waiting_tasks", 1, queue="default")   # nobody available yet
    assert sample(text, "switchboard_routing_decision_seconds_count") >= 1
    async with screen(api, "olga") as olga:
        assert sample(await scrape(api), "switchboard_websocket_connections") == 1
        offer = await olga.expect("offer.created")
        await olga.send("offer.decline", offer_id=offer["offer_id"])
        await olga.expect("offer.decline.ok", keep_others=True)
        text = await eventually(api, "switchboard_routing_offers_total", 1, outcome="rejected")
        assert sample(text, "switchboard_routing_offers_total", outcome="offered") >= 1
    await eventually(api, "switchboard_websocket_connections", 0)


@pytest.mark.parametrize("metrics_settings, headers, allowed", [
    ({"allow": ["10.0.0.0/8"]}, {}, False),
    ({"allow": ["127.0.0.0/8", "::1/128"]}, {}, True),
    ({"token": "scrape-me"}, {}, False),
    ({"token": "scrape-me"}, {"Authorization": "Bearer wrong"}, False),
    ({"token": "scrape-me", "allow": ["10.0.0.0/8"]}, {"Authorization": "Bearer scrape-me"}, True),
])
async def test_metrics_can_be_restricted_to_networks_or_a_token(database_url, tmp_path, metrics_settings, headers,
                                                                allowed):
    from aiohttp.test_utils import TestClient, TestServer

    from gateway.app import create_app
    from support.gateway_app import make_settings

    app = create_app(make_settings(database_url, storage={"dir": str(tmp_path)}, metrics=metrics_settings))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        response = await client.get("/metrics", headers=headers)
        assert response.status == (200 if allowed else 403)
        if not allowed:
            assert (await response.json())["error"]["code"] == "forbidden"
