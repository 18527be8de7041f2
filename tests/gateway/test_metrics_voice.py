"""/metrics for voice and listeners: the screen pop's latency, the AMI connection, the SMTP listener."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from simulators.pbx.server import SimulatedPbx
from crm_store.types import Role
from gateway.keys import AMI
from support.screens import screen
from test_metrics import sample, scrape

SECRET = "s3cret"


@pytest.fixture
async def pbx() -> AsyncIterator[SimulatedPbx]:
    async with SimulatedPbx(username="switchboard", secret=SECRET) as running:
        yield running


@pytest.fixture
def settings_overrides(pbx: SimulatedPbx) -> dict[str, Any]:
    return {"ami": {"host": "127.0.0.1", "port": pbx.port, "username": "switchboard", "secret": SECRET,
                    "reconnect_min": 0.05, "reconnect_max": 0.2},
            "smtp": {"listen": "127.0.0.1:0", "domains": ["shop.example"]}}


async def test_a_ringing_call_records_its_pop_latency_and_the_connections_show(api, pbx):
    await api.add_user("olga", Role.OPERATOR, extension="101")
    async with asyncio.timeout(60):
        await api.client.app[AMI].logged_in.wait()
    text = await scrape(api)
    assert sample(text, "switchboard_ami_state", state="connected") == 1
    assert sample(text, "switchboard_ami_state", state="disconnected") == 0
    assert sample(text, "switchboard_voice_active") == 1
    assert sample(text, "switchboard_channel_connected", channel="smtp") == 1
    assert sample(text, "switchboard_screen_pop_seconds_count") == 0
    async with screen(api, "olga") as olga:
        await pbx.ring_all(caller="+74990000000", caller_name="Новый Клиент", extensions=["101"], answered_by="101")
        await olga.expect("call.ringing")
    async with asyncio.timeout(60):
        while sample(text := await scrape(api), "switchboard_screen_pop_seconds_count") != 1:
            await asyncio.sleep(0.02)
    assert 0 < sample(text, "switchboard_screen_pop_seconds_sum") < 60
