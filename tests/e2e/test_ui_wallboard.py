"""The supervisor wallboard in a real browser: numbers move live as tasks arrive and are accepted."""
from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import connect

from crm_store.types import Role
from ui_conftest_helpers import SQLITE_ONLY, Ui, ui, ui_settings  # noqa: F401

pytestmark = SQLITE_ONLY


async def frame_of(ws, kind: str, timeout: float = 30.0) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == kind:
                return message["data"]


def stat(queue: str, name: str) -> str:
    return f".tile[data-queue='{queue}'] [data-stat='{name}'] .stat-value"


async def test_wallboard_counts_move_as_tasks_arrive_and_are_accepted(ui: Ui, browser, shots) -> None:  # type: ignore[no-untyped-def]
    await ui.add_user("boss", Role.SUPERVISOR, display_name="The Boss")
    await ui.add_user("olga", Role.MANAGER, display_name="Olga")
    page = await ui.new_page(browser)
    await ui.sign_in(page, "boss", to="/wallboard")
    await page.wait_for_selector(stat("default", "waiting") + ":text-is('0')")

    # Nobody is available: the form waits, and the wallboard shows it without a reload.
    await ui.post_form(name="First", phone="+79123450001")
    await page.wait_for_selector(stat("default", "waiting") + ":text-is('1')")
    assert await page.locator(".tile[data-queue='default'] dd[data-stat='entered']").inner_text() == "1"
    await page.wait_for_selector("#channels tr[data-key='email']")

    token = (await ui.login("olga"))["Authorization"].split()[1]
    async with connect(f"ws://127.0.0.1:{ui.client.port}/ws?token={token}") as ws:
        await ws.send(json.dumps({"type": "presence.set", "data": {"presence": "available"}}))
        offer = await frame_of(ws, "offer.created")
        await page.wait_for_selector(stat("default", "reserved") + ":text-is('1')")
        await page.wait_for_selector(stat("default", "waiting") + ":text-is('0')")
        await ws.send(json.dumps({"type": "offer.accept", "data": {"offer_id": offer["offer_id"]}}))
        await frame_of(ws, "lead.assigned")
        await page.wait_for_selector(stat("default", "assigned") + ":text-is('1')")
        await page.wait_for_selector(".tile[data-queue='default'] dd[data-stat='assigned_today']:text-is('1')")
        assert await page.locator(stat("default", "sl")).inner_text() == "100%"
        row = page.locator("#agents tr[data-key]", has_text="Olga")
        assert "Available" in await row.inner_text()
        # The supervisor, signed in but taking no work, is not counted as an agent.
        assert await page.locator("#agents tr[data-key]", has_text="The Boss").count() == 0
        # Another form, while Olga still has room: it goes straight to her.
        await ui.post_form(name="Second", phone="+79123450002")
        await frame_of(ws, "offer.created")
        await page.wait_for_selector(stat("default", "reserved") + ":text-is('1')")
    # The history is the server's (/api/v1/reports/hourly): a fresh screen shows the hour's two offers, one
    # accepted, in the chart and in the table beside it; nothing comes from this browser's storage.
    fresh = await ui.new_page(browser)
    await ui.sign_in(fresh, "boss", to="/wallboard")
    await fresh.wait_for_selector("#history-table td[data-stat='offers']")

    async def column(stat: str) -> int:       # summed: the test may straddle an hour
        return sum(int(v) for v in await fresh.locator(f"#history-table td[data-stat='{stat}']").all_inner_texts())
    assert (await column("offers"), await column("accepted")) == (2, 1)
    drawn = await fresh.evaluate("() => window.Chart.getChart(document.getElementById('history-chart')).data.datasets"
                                 ".map((d) => d.data.reduce((a, b) => a + b, 0))")
    assert drawn[:2] == [2, 1]
    assert await fresh.evaluate("() => sessionStorage.length + localStorage.length") <= 1   # at most the locale
    await shots.take(page)
    assert ui.errors == []


async def test_an_operator_cannot_read_the_wallboard(ui: Ui, browser, shots) -> None:  # type: ignore[no-untyped-def]
    await ui.add_user("ivan", Role.OPERATOR, locale="ru")
    page = await ui.new_page(browser)
    await ui.sign_in(page, "ivan", to="/wallboard")
    await page.wait_for_selector("#wb-error:has-text('Табло доступно')")
    assert await page.locator("h1.title").inner_text() == "Табло"
    await shots.take(page)
    await page.click("#logout")
    await page.wait_for_url("**/login")
    await page.goto("/console")
    await page.wait_for_url("**/login")
