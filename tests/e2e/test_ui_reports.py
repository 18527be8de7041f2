"""The reports page in a real browser (EN and RU): the manager table ranked with a chart holding the figures,
the funnel's chart, one agent's day as a timeline, and downloads read back with csv and openpyxl."""
from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from crm_store import activity, routing_log
from crm_store.models import Lead
from crm_store.types import Role
from gateway.keys import SESSIONS
from ui_conftest_helpers import SQLITE_ONLY, Ui, ui, ui_settings  # noqa: F401

pytestmark = SQLITE_ONLY

DAY = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)       # noon in Moscow: explicit times, whatever the clock says
WORDS = {"en": {"title": "Reports", "break": "break", "accepted": "Accepted"},
         "ru": {"title": "Отчёты", "break": "перерыв", "accepted": "Принято"}}


@pytest.fixture
def ui_settings() -> dict[str, Any]:
    return {"reports": {"timezone": "Europe/Moscow", "rating": {"offers_accepted": 1.0, "leads_won": 5.0}}}


async def _offers(ui: Ui, lead_id: int, agent: int, outcomes: list[str]) -> None:
    """One task of the lead offered to `agent` once per outcome, on DAY."""
    at = DAY
    async with ui.client.app[SESSIONS]() as session, session.begin():
        task_id = f"lead:{lead_id}:{uuid.uuid4().hex[:8]}"
        routing_log.add_task_row(session, task_id, lead_id=lead_id, kind="lead", channel="chat", queue="default",
                                 priority=0, owner_id=None, created_at=at)
        await session.flush()
        for n, outcome in enumerate(outcomes):
            await routing_log.record_offer(session, f"{task_id}:{n}", task_id, agent, at, at + timedelta(minutes=2), {})
            await session.flush()
            await routing_log.close_offer(session, f"{task_id}:{n}", outcome, at + timedelta(seconds=10 * (n + 1)))


async def _seed(ui: Ui, lang: str) -> dict[str, int]:
    who = {"boss": await ui.add_user("boss", Role.SUPERVISOR, display_name="Boss", locale=lang),
           "olga": await ui.add_user("olga", Role.MANAGER, display_name="Olga", team="sales"),
           "sam": await ui.add_user("sam", Role.MANAGER, display_name="Sam", team="sales")}
    leads = [await ui.post_form(name=f"Client {n}", phone=f"+7912345000{n}") for n in range(1, 4)]
    await _offers(ui, leads[0], who["olga"], ["timeout", "accepted"])
    await _offers(ui, leads[1], who["olga"], ["accepted"])
    await _offers(ui, leads[2], who["sam"], ["rejected", "accepted"])
    async with ui.client.app[SESSIONS]() as session, session.begin():
        for lead_id in leads:           # stored by today's clock; the report asks for DAY
            (await session.get(Lead, lead_id)).created_at = DAY - timedelta(hours=1)
        lead = await session.get(Lead, leads[0])
        lead.assignee_id, lead.status, lead.outcome, lead.closed_at = who["olga"], "won", "won", DAY
        for minutes, state, reason in ((0, "available", None), (60, "break", "coffee"), (75, "available", None)):
            await activity.record_change(session, who["olga"], state, reason, "console", DAY + timedelta(minutes=minutes))
    return who


async def _download(page: Any, selector: str) -> Path:
    async with page.expect_download() as info:
        await page.click(selector)
    download = await info.value
    return Path(await download.path())


async def _chart(page: Any, canvas: str) -> dict[str, Any]:
    """What Chart.js drew on the canvas: its labels and each dataset's numbers."""
    return await page.evaluate("""(id) => { const c = window.Chart.getChart(document.getElementById(id));
        return c ? { labels: c.data.labels, data: c.data.datasets.map((d) => d.data) } : null; }""", canvas)


@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_reports_page_table_charts_timeline_and_downloads(ui: Ui, browser, shots, lang: str) -> None:  # type: ignore[no-untyped-def]
    who = await _seed(ui, lang)
    words = WORDS[lang]
    page = await ui.new_page(browser)
    await ui.sign_in(page, "boss", to="/reports")
    await page.wait_for_selector("body[data-ready='true']")
    assert await page.locator("h1.title").inner_text() == words["title"]
    assert await page.locator("#nav a[aria-current='page']").inner_text() == words["title"]
    await page.select_option("#period", "custom")
    await page.fill("#from", "2026-11-10")
    await page.fill("#to", "2026-11-10")
    await page.click("#report-filters button[type='submit']")
    await page.wait_for_selector("#managers-period:has-text('2026-11-10 – 2026-11-10')")
    await page.wait_for_selector("body[data-ready='true']")

    # The table, ranked by the rating: Olga (2 accepted + 5 for a won lead) above Sam (1 accepted).
    olga_row = f"#managers tr[data-key='{who['olga']}']"
    await page.wait_for_selector(olga_row)
    assert await page.locator("#managers tbody tr").first.get_attribute("data-key") == str(who["olga"])
    assert await page.locator(f"{olga_row} td[data-col='offers_accepted']").inner_text() == "2"
    assert await page.locator(f"{olga_row} td[data-col='offers_timed_out']").inner_text() == "1"
    assert words["accepted"] in await page.locator("#managers thead").inner_text()
    chart = await _chart(page, "managers-chart")
    assert chart["labels"][:2] == ["Olga", "Sam"]
    assert chart["data"][0][:2] == [2, 1] and chart["data"][1][:2] == [0, 1] and chart["data"][2][:2] == [1, 0]

    # The funnel of the default pipeline: the three leads entered its first stage.
    await page.wait_for_selector("#funnel tbody tr")
    funnel = await _chart(page, "funnel-chart")
    assert funnel["data"][0][0] == 3

    # One agent's day: a click on the name draws the timeline; the break and its reason are in the table.
    await page.click(f"{olga_row} button.agent-link")
    await page.wait_for_selector("#timeline td[data-state='break']")
    assert words["break"] in (await page.locator("#timeline td[data-state='break']").inner_text()).lower()
    timeline = await _chart(page, "timeline-chart")
    assert timeline is not None and len(timeline["data"]) == 2          # available and break

    # Downloads: the manager report as CSV, the leads list as XLSX, each the rows the page showed.
    table = list(csv.reader(_download_text(await _download(page, "#managers-downloads a[data-format='csv']"))))
    header, rows = table[0], {r[2]: dict(zip(table[0], r)) for r in table[1:]}
    assert header[:3] == ["rank", "user_id", "display_name"]
    assert set(rows) == {"Olga", "Sam"} and rows["Olga"]["offers_accepted"] == "2" and rows["Olga"]["rank"] == "1"
    xlsx = await _download(page, "#other-downloads a[data-report='leads'][data-format='xlsx']")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.read_bytes()), read_only=True).active
    lines = list(sheet.iter_rows(values_only=True))
    assert lines[0][:3] == ("lead_id", "created_at", "client")
    assert sorted(line[2] for line in lines[1:]) == ["Client 1", "Client 2", "Client 3"]
    await shots.take(page)
    assert ui.errors == []


def _download_text(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8-sig").splitlines()
