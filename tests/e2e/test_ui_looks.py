"""How the console looks and reads, in a real browser: phone and desktop sizes, English and Russian, light
and dark; the language switch; an axe-core scan of every screen (no serious or critical violation).

`UI_README_SHOTS=1` (not SWITCHBOARD_*: the service refuses unknown settings) makes these tests write the
README's screenshots into docs/screenshots.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe

from crm_store.types import Role
from gateway.keys import HUB
from test_ui_console import go_available
from ui_conftest_helpers import SQLITE_ONLY, Ui, eventually, ui, ui_settings  # noqa: F401

pytestmark = SQLITE_ONLY

README_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP, PHONE, SMALL = {"width": 1440, "height": 900}, {"width": 390, "height": 844}, {"width": 360, "height": 740}
# Impacts that fail the scan; "moderate" and "minor" are reported by axe but are advice, not barriers.
BLOCKING = {"serious", "critical"}


async def readme_shot(page: Any, name: str) -> None:
    if os.environ.get("UI_README_SHOTS"):
        await page.screenshot(path=str(README_SHOTS / name))


async def no_serious_violations(page: Any, where: str) -> None:
    results = await Axe().run(page)
    blocking = [v for v in results.response["violations"] if v["impact"] in BLOCKING]
    assert not blocking, f"{where}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:5]}" for v in blocking)


async def in_view(page: Any, locator: Any) -> bool:
    """Whole inside the viewport as the page first shows, without scrolling."""
    box = await locator.bounding_box()
    size = page.viewport_size
    return (box is not None and box["x"] >= 0 and box["y"] >= 0
            and box["x"] + box["width"] <= size["width"] and box["y"] + box["height"] <= size["height"])


@pytest.mark.parametrize(("viewport", "lang", "scheme", "shot"), [
    (DESKTOP, "en", "light", "console.png"),
    (PHONE, "ru", "dark", "console-phone-ru-dark.png"),
    (SMALL, "en", "dark", None),
], ids=["1440-en-light", "390-ru-dark", "360-en-dark"])
async def test_a_known_clients_call_pops_within_reach_at_any_size(ui: Ui, browser, shots, viewport, lang, scheme,  # type: ignore[no-untyped-def]
                                                                  shot) -> None:
    olga = await ui.add_user("olga", Role.MANAGER, locale=lang, display_name="Olga Petrova")
    await ui.add_user("boss", Role.SUPERVISOR)
    boss = await ui.login("boss")
    # A known client: she wrote before, and her lead is Olga's.
    known = await ui.post_form(name="Anna Smirnova", phone="+79123456789", message="Call me back about the sofa")
    taken = await ui.client.patch(f"/api/v1/leads/{known}", json={"assignee_id": olga}, headers=boss)
    assert taken.status == 200, await taken.text()
    page = await ui.new_page(browser, viewport=viewport, color_scheme=scheme)
    await ui.sign_in(page, "olga")
    words = {"en": ("Available", "Incoming"), "ru": ("На линии", "Входящие")}[lang]
    await page.wait_for_selector(f"#presence [data-presence=available]:has-text('{words[0]}')")
    assert await page.locator(".incoming-col h2").inner_text() == words[1]
    await page.locator(f"#lead-list [data-lead-id='{known}']").wait_for()
    # Nothing rings yet: the work area is on the first screen, not a long way down.
    assert (await page.locator("#work").bounding_box())["y"] < viewport["height"]
    for presence in ("available", "away", "offline"):
        assert await in_view(page, page.locator(f"#presence [data-presence={presence}]")), presence

    await go_available(ui, page, olga)
    fresh = await ui.post_form(name="Pavel", phone="+79123450000", message="How much is delivery?")
    offer = page.locator(f".offer-card[data-lead-id='{fresh}']")
    await offer.wait_for()
    card = await (await ui.client.get(f"/api/v1/leads/{known}", headers=boss)).json()
    await ui.client.app[HUB].send(olga, "call.ringing", {
        "call_id": "c-1", "lead_id": known, "caller": "+79123456789", "caller_name": "Anna Smirnova",
        "queue": "sales", "did": "+74951234567", "extension": "101", "card": card})
    call = page.locator(".call-card[data-call-id='c-1']")
    await call.wait_for()
    text = await call.inner_text()
    assert "Call me back about the sofa" in text        # her history came with the pop
    # Where she came from is said in words of the user's language, never as raw codes.
    assert {"en": "Call to 8 (495) 123-45-67", "ru": "Звонок на 8 (495) 123-45-67"}[lang] in text
    if lang == "ru":
        assert not {"channel", "form", "did", "queue"} & set(text.split()), text
    await page.wait_for_timeout(300)     # the pop-in animation, so the boxes are where they stay
    top = page.locator("#offers > .offer-card").first
    for button in await top.locator("footer button").all():
        assert await in_view(page, button), await button.inner_text()
    for presence in ("available", "away", "offline"):
        assert await in_view(page, page.locator(f"#presence [data-presence={presence}]")), presence
    await no_serious_violations(page, f"console {lang} {scheme} {viewport['width']}")
    await shots.take(page)
    if shot and viewport["width"] < 1000:
        await readme_shot(page, shot)

    # The keyboard acts on the live card on top (the offer): Alt+A takes it into the work area, then Alt+D
    # dismisses the ringing call, which is on top now.
    assert await top.get_attribute("data-offer-id") is not None
    await page.keyboard.press("Alt+A")
    await page.wait_for_selector(f".lead-card[data-lead-id='{fresh}']")
    await call.and_(page.locator(".current")).wait_for()
    if shot and viewport["width"] >= 1000:
        await readme_shot(page, shot)       # the README's: a lead in work while the known client's call rings
    await page.keyboard.press("Alt+D")
    await call.wait_for(state="detached")


async def test_the_language_switch_is_remembered_for_the_user(ui: Ui, browser, shots) -> None:  # type: ignore[no-untyped-def]
    olga = await ui.add_user("olga", Role.MANAGER, locale="en")
    await ui.post_form(name="Anna", phone="+79123456789")
    page = await ui.new_page(browser, viewport=PHONE, locale="en-US")
    await ui.sign_in(page, "olga")
    await page.wait_for_selector("#presence [data-presence=available]:has-text('Available')")
    await page.locator("#user-menu summary").click()
    assert await in_view(page, page.locator("#language"))
    await page.locator("#language option[value=ru]").wait_for(state="attached")
    async with page.expect_navigation():
        await page.locator("#language").select_option("ru")
    await page.wait_for_selector("#presence [data-presence=available]:has-text('На линии')")
    assert await page.locator("html").get_attribute("lang") == "ru"
    # The lists read Russian too: the tabs and their counts.
    await page.wait_for_selector(".list-tabs .tab[data-view=unassigned]:has-text('Без исполнителя')")
    await page.reload()
    await page.wait_for_selector("#user-menu summary:has-text('Настройки')")
    # The choices arrive with languages.json, just after the menu is drawn.
    await page.wait_for_function("document.querySelector('#language').value === 'ru'")
    await eventually(lambda: _locale_is(ui, olga, "ru"))
    # Signed out, the sign-in page keeps the language this browser last used.
    await page.locator("#logout").click()
    await page.wait_for_selector("#login-submit:has-text('Войти')")
    await shots.take(page)


async def _locale_is(ui: Ui, user_id: int, locale: str) -> bool:
    from crm_store import users
    from gateway.keys import SESSIONS
    async with ui.client.app[SESSIONS]() as session:
        return (await users.get_user(session, user_id)).locale == locale


@pytest.mark.parametrize(("viewport", "scheme"), [(DESKTOP, "light"), (PHONE, "dark")], ids=["1440-light", "390-dark"])
async def test_every_screen_passes_the_accessibility_scan(ui: Ui, browser, shots, viewport, scheme: str) -> None:  # type: ignore[no-untyped-def]
    await ui.add_user("boss", Role.SUPERVISOR, display_name="Irina Boss")
    lead = await ui.post_form(name="Anna Smirnova", phone="+79123456789", email="anna@example.org",
                              message="Call me back about the sofa")
    headers = await ui.login("boss")
    contact = (await (await ui.client.get(f"/api/v1/leads/{lead}", headers=headers)).json())["contact"]["id"]
    page = await ui.new_page(browser, viewport=viewport, color_scheme=scheme)
    await page.goto("/login")
    await page.locator("#login-submit").wait_for()
    await no_serious_violations(page, f"login {scheme}")
    await ui.sign_in(page, "boss")
    screens = [("/console", "#lead-list li"), ("/wallboard", "#queues .tile"), ("/tasks", "#nav a"),
               ("/board", ".board .column"), (f"/clients/{contact}", ".client-title"),
               ("/admin", ".admin-table tbody tr"), ("/reports", "#managers")]
    for path, ready in screens:
        await page.goto(path)
        await page.locator(ready).first.wait_for()
        await no_serious_violations(page, f"{path} {scheme}")
        await shots.take(page, path.strip("/").replace("/", "-"))
        if path == "/wallboard" and scheme == "light":
            await readme_shot(page, "wallboard.png")
