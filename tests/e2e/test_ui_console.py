"""The operator console in a real browser: sign-in, presence, a form pops the card, accept, reply, safety."""
from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from channels.types import Confidence, IdentityClaim, InboundContact
from crm_store.types import Role
from gateway.keys import DISPATCHER, INTAKE, RESPONDERS
from ui_conftest_helpers import SQLITE_ONLY, RecordingResponder, Ui, eventually, ui, ui_settings  # noqa: F401

pytestmark = SQLITE_ONLY


async def agent_presence(ui: Ui, user_id: int) -> str | None:
    [state] = await ui.client.app[DISPATCHER].engine.backend.get_agents([str(user_id)])
    return state.presence.value if state else None


async def go_available(ui: Ui, page, user_id: int) -> None:  # type: ignore[no-untyped-def]
    await page.click("#presence [data-presence=available]")
    await page.wait_for_selector("#presence [data-presence=available][aria-pressed=true]")
    await eventually(lambda: _is(ui, user_id, "available"))


async def _is(ui: Ui, user_id: int, presence: str) -> bool:
    return await agent_presence(ui, user_id) == presence


async def test_pages_need_a_session_and_carry_a_strict_csp(ui: Ui) -> None:
    for path in ("/", "/console", "/wallboard"):
        response = await ui.client.get(path, allow_redirects=False)
        assert response.status == 303 and response.headers["Location"] == "/login", path
    login = await ui.client.get("/login")
    csp = login.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "connect-src 'self' ws: wss:" in csp and "frame-ancestors 'none'" in csp
    assert "<script" in await login.text() and "switchboard_session" not in await login.text()
    stale = await ui.client.get("/console", allow_redirects=False, cookies={"switchboard_session": "expired-or-forged"})
    assert stale.status == 303
    assert (await ui.client.get("/ui/js/console.js")).status == 200


async def test_sign_in_go_available_a_form_pops_the_card_and_accept_opens_the_lead(ui: Ui, browser, shots) -> None:  # type: ignore[no-untyped-def]
    olga = await ui.add_user("olga", Role.MANAGER, display_name="Olga Petrova")
    page = await ui.new_page(browser)
    await page.goto("/login")
    await page.fill("#username", "olga")
    await page.fill("#password", "wrong password")
    await page.click("#login-submit")
    await page.wait_for_selector("#login-error:not([hidden])")
    await ui.sign_in(page, "olga")
    await page.wait_for_selector("#whoami:has-text('Olga Petrova')")
    await go_available(ui, page, olga)

    started = time.monotonic()
    lead_id = await ui.post_form(name="Anna Smirnova", phone="+7 912 345-67-89", email="anna@example.org",
                                 message="Call me back about the sofa", utm_source="yandex", utm_campaign="spring")
    card = page.locator(".offer-card")
    await card.wait_for(timeout=1500)
    popped = time.monotonic() - started
    assert popped < 1.0, f"the card popped after {popped:.2f} s"
    text = await card.inner_text()
    for expected in ("Anna Smirnova", "8 (912) 345-67-89", "anna@example.org", "yandex", "spring",
                     "Call me back about the sofa", "Accept", "Alt+A", "Decline", "Alt+D"):
        assert expected in text, expected
    assert await card.locator(".countdown").inner_text() != ""
    await page.wait_for_timeout(300)     # the pop-in animation
    await shots.take(page, "offer")

    await card.locator("button.accept").click()
    await page.wait_for_selector(f".lead-card[data-lead-id='{lead_id}']")
    await card.wait_for(state="detached")
    await page.wait_for_selector(f"#lead-list [data-lead-id='{lead_id}']")
    await page.wait_for_selector(".lead-card .assignee-name:has-text('Olga Petrova')")
    await shots.take(page, "accepted")

    # The presence survives a reload: the screen says it again on connect.
    await page.reload()
    await page.wait_for_selector("#presence [data-presence=available][aria-pressed=true]")
    assert await agent_presence(ui, olga) == "available"
    await page.click("#presence [data-presence=away]")
    await eventually(lambda: _is(ui, olga, "break"))
    await page.reload()
    await page.wait_for_selector("#presence [data-presence=away][aria-pressed=true]")
    assert await agent_presence(ui, olga) == "break"
    assert ui.errors == []
