"""The console with a phone system behind it: a real AMI call pops in the browser; click-to-call rings the desk phone."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from simulators.pbx.server import SimulatedPbx
from crm_store.types import Role
from gateway.keys import AMI, ROUTING
from ui_conftest_helpers import SQLITE_ONLY, Ui, eventually, ui  # noqa: F401

pytestmark = SQLITE_ONLY


async def _available(ui: Ui, user_id: int) -> bool:
    state = await ui.client.app[ROUTING].agent(user_id)
    return state is not None and state.presence.value == "available"


@pytest.fixture
async def pbx() -> AsyncIterator[SimulatedPbx]:
    async with SimulatedPbx(username="switchboard", secret="s3cret") as running:
        yield running


@pytest.fixture
def ui_settings(pbx: SimulatedPbx) -> dict[str, Any]:
    return {"ami": {"host": "127.0.0.1", "port": pbx.port, "username": "switchboard", "secret": "s3cret"}}


async def test_a_pbx_call_pops_the_card_in_the_browser_and_click_to_call_rings_the_desk(ui: Ui, pbx, browser, shots):  # type: ignore[no-untyped-def]
    olga = await ui.add_user("olga", Role.SUPERVISOR, extension="101")
    async with asyncio.timeout(30):
        await ui.client.app[AMI].logged_in.wait()
    page = await ui.new_page(browser)
    await ui.sign_in(page, "olga")
    await page.click("#presence [data-presence=available]")
    # The screen is connected and its agent available before the phone rings: the pop has somewhere to go.
    await page.wait_for_selector("#presence [data-presence=available][aria-pressed=true]")
    await eventually(lambda: _available(ui, olga))
    lead_id = await ui.post_form(name="Анна Смирнова", phone="+79161234567", message="Перезвоните")
    call = pbx.spawn(pbx.queue_call(caller="+79161234567", caller_name="Анна Смирнова", extensions=["101"],
                                    ring_seconds=1.5, talk_seconds=1.0))
    card = page.locator(f".call-card[data-lead-id='{lead_id}']")
    await card.wait_for()
    text = await card.inner_text()
    assert "Анна Смирнова" in text and "Перезвоните" in text     # the caller's history came with the pop
    await shots.take(page, "ringing")
    await call

    await page.goto(f"{ui.url}/console#lead/{lead_id}")
    button = page.locator(".lead-card .call-button").first
    await button.click()
    await page.wait_for_selector(".lead-card .call-status:not(.error)")
    async with asyncio.timeout(30):
        while not any(a.get("Action") == "Originate" for a in pbx.actions):
            await asyncio.sleep(0.05)
    [originate] = [a for a in pbx.actions if a.get("Action") == "Originate"]
    assert (originate["Channel"], originate["Exten"]) == ("PJSIP/101", "+79161234567")
    await page.locator(".call-card:has-text('Your phone rings')").wait_for()   # the desk phone rings
    await shots.take(page, "click-to-call")
