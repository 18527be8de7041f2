"""The three seconds while the phone rings: a known client's pop says who calls, a new caller reads as such,
the keyboard acts on the ringing call, the work list reads; in English and in Russian, one page each."""
from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from crm_store import leads
from crm_store.ingest import utcnow
from crm_store.types import Claim, IngestRequest, IngestResult, Role
from gateway.keys import HUB, INGESTOR, SESSIONS
from gateway.routing.cards import card_of_task
from test_ui_console import go_available
from ui_conftest_helpers import SQLITE_ONLY, Ui, ui  # noqa: F401

pytestmark = SQLITE_ONLY

KNOWN, NEW, LINE = "+79161234567", "+79035550011", "+74950001122"
RAW = re.compile(r"\b(did|utm_\w+|channel|missed_offers|voice)\b")     # raw keys and codes (the source as a list)


@pytest.fixture
def ui_settings() -> dict[str, Any]:
    return {"console": {"source_labels": {LINE: "Sales line"}}}


async def _ingest(ui: Ui, channel: str, phone: str, text: str, name: str | None = None,
                  attributes: dict[str, Any] | None = None, **source: str) -> IngestResult:
    """Stored as the channel would store it, with no routing task: nothing but the frames the test sends pops."""
    request = IngestRequest(channel=channel, event_id=uuid.uuid4().hex, received_at=utcnow(), text=text, name=name,
                            claims=(Claim("phone", phone, True, "stated"),), primary_kind="phone",
                            source={"channel": channel, **source}, attributes=attributes or {})
    return await ui.client.app[INGESTOR].ingest(request)


async def _pop(ui: Ui, result: IngestResult) -> dict[str, Any]:
    """The card exactly as a pop carries it (read on routing's behalf)."""
    async with ui.client.app[SESSIONS]() as session:
        card = await card_of_task(session, f"lead:{result.lead_id}:{result.interaction_id}")
    assert card is not None
    return card


async def _ring(ui: Ui, user_id: int, call_id: str, result: IngestResult | None, caller: str,
                card: dict[str, Any] | None) -> None:
    await ui.client.app[HUB].send(user_id, "call.ringing", {
        "call_id": call_id, "lead_id": result.lead_id if result else None, "direction": "inbound",
        "caller": caller, "caller_name": None, "queue": "sales", "did": LINE, "extension": "101", "card": card})


async def _scenario(ui: Ui, browser: Any, lang: str, words: dict[str, str]) -> None:
    boss = await ui.add_user("boss", Role.SUPERVISOR, display_name="Sveta", locale=lang, extension="101")
    max_id = await ui.add_user("max", Role.MANAGER, display_name="Max Manager", team="sales")
    as_boss = await ui.login("boss")
    deal = await _ingest(ui, "form", KNOWN, "Хочу оформить заказ", "Анна Смирнова", utm_campaign="winter")
    async with ui.client.app[SESSIONS]() as session, session.begin():
        await leads.assign(session, deal.lead_id, max_id, utcnow())
    patched = await ui.client.patch(f"/api/v1/leads/{deal.lead_id}", json={"amount": 4_500_000, "currency": "RUB"},
                                    headers=as_boss)
    assert patched.status == 200, await patched.text()
    company = await (await ui.client.post("/api/v1/companies", json={"name": "ООО «Ромашка»"}, headers=as_boss)).json()
    linked = await ui.client.put(f"/api/v1/contacts/{deal.contact_id}/companies/{company['id']}", json={},
                                 headers=as_boss)
    assert linked.status == 201, await linked.text()
    known_call = await _ingest(ui, "voice", KNOWN, "", did=LINE, queue="sales")
    new_call = await _ingest(ui, "voice", NEW, "", did=LINE, queue="sales")
    assert known_call.lead_id == deal.lead_id and new_call.lead_id != deal.lead_id
    missed = await _ingest(ui, "voice", "+79035550022", "", "Pavel", attributes={
        "status": "ended", "outcome": "missed", "callback_task": "lead:0:0"}, did=LINE)

    page = await ui.new_page(browser)
    await ui.sign_in(page, "boss")
    await go_available(ui, page, boss)

    # A supervisor lands on every open lead, by the client's name, with the tabs' counts.
    await page.locator("#list-title [data-view=all]").filter(has_text=f"{words['all']} (3)").wait_for()
    line = page.locator(f"#lead-list [data-lead-id='{deal.lead_id}']")
    await line.filter(has_text="Анна Смирнова").wait_for()
    assert not (await line.inner_text()).startswith("#")
    await page.locator(f"#lead-list [data-lead-id='{missed.lead_id}']").filter(has_text=words["call_back"]).wait_for()

    # A known client rings: name, company, the number once, owner, the open deal with its amount, the last contact.
    await _ring(ui, boss, "c-known", known_call, KNOWN, await _pop(ui, known_call))
    known = page.locator(".call-card[data-call-id='c-known']")
    await known.wait_for()
    text = await known.inner_text()
    for expected in ("Анна Смирнова", "ООО «Ромашка»", "Max Manager", "Хочу оформить заказ", words["returning"],
                     words["deals"], words["line"], words["campaign"]):
        assert expected in text, expected
    assert text.count("123-45-67") == 1          # the number, once
    assert re.search(r"45\D?000", await known.locator(".glance-deals").inner_text())
    assert not RAW.search(text), RAW.search(text)

    # A first-time caller: a new client, the card arriving after the pop fills it in place.
    await _ring(ui, boss, "c-new", new_call, NEW, None)
    fresh = page.locator(".call-card[data-call-id='c-new']")
    await fresh.wait_for()
    await ui.client.app[HUB].send(boss, "call.card", {"call_id": "c-new", "lead_id": new_call.lead_id,
                                                      "card": await _pop(ui, new_call)})
    await fresh.locator(".glance-who").filter(has_text=words["new"]).wait_for()
    assert "555-00-11" in await fresh.inner_text() and not RAW.search(await fresh.inner_text())

    # The known call ends: its card shows how, and the keyboard now acts on the call still ringing.
    await ui.client.app[HUB].send(boss, "call.ended", {"call_id": "c-known", "lead_id": deal.lead_id,
                                                       "talk_seconds": 42, "missed": False})
    await page.locator(".call-card.ended[data-call-id='c-known']").wait_for()
    assert await fresh.get_attribute("aria-current") == "true"
    await page.keyboard.press("Alt+A")
    await page.locator(f".lead-card[data-lead-id='{new_call.lead_id}']").wait_for()
    source = await page.locator(".lead-card .source").inner_text()      # the lead card says its source in words
    assert words["dialled"] in source and not RAW.search(source), source
    assert ui.errors == []


async def test_the_ringing_card_and_the_lists_in_english(ui: Ui, browser) -> None:  # type: ignore[no-untyped-def]
    await _scenario(ui, browser, "en", {
        "all": "All open", "returning": "Returning client", "deals": "Open deals", "line": "Call to Sales line",
        "campaign": "campaign “winter”", "new": "New client", "call_back": "missed call: call back",
        "dialled": "Number dialled"})


async def test_the_ringing_card_and_the_lists_in_russian(ui: Ui, browser) -> None:  # type: ignore[no-untyped-def]
    await _scenario(ui, browser, "ru", {
        "all": "Все открытые", "returning": "Обращался раньше", "deals": "Открытые сделки",
        "line": "Звонок на Sales line", "campaign": "кампания «winter»", "new": "Новый клиент",
        "call_back": "пропущенный: перезвонить", "dialled": "Набранный номер"})
