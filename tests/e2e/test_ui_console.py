"""The operator console in a real browser: sign-in, presence, a form pops the card, accept, reply, safety."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from channels.types import Confidence, IdentityClaim, InboundContact
from crm_store.types import Role
from gateway.keys import ROUTING, INTAKE, RESPONDERS
from ui_conftest_helpers import SQLITE_ONLY, RecordingResponder, Ui, eventually, ui, ui_settings  # noqa: F401

pytestmark = SQLITE_ONLY


async def agent_presence(ui: Ui, user_id: int) -> str | None:
    state = await ui.client.app[ROUTING].agent(user_id)
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
        assert response.status == 303 and response.headers["Location"].startswith("/login"), path
    login = await ui.client.get("/login")
    csp = login.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "connect-src 'self' ws: wss:" in csp and "frame-ancestors 'none'" in csp
    assert "<script" in await login.text() and "switchboard_session" not in await login.text()
    stale = await ui.client.get("/console", allow_redirects=False, cookies={"switchboard_session": "expired-or-forged"})
    assert stale.status == 303
    script = await ui.client.get("/ui/js/console.js")
    assert script.status == 200 and script.headers["Content-Type"].startswith("text/javascript")
    for bypass in ("/ui/console.html", "/ui/../ui_routes.py", "/ui/%2e%2e/__init__.py", "/ui/js/nope.js"):
        assert (await ui.client.get(bypass)).status == 404, bypass


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

    lead_id = await ui.post_form(name="Anna Smirnova", phone="+7 912 345-67-89", email="anna@example.org",
                                 message="Call me back about the sofa", utm_source="yandex", utm_campaign="spring")
    card = page.locator(".offer-card")
    await card.wait_for()
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


def telegram(text: str, n: int, **extra) -> InboundContact:  # type: ignore[no-untyped-def]
    return InboundContact(
        channel="telegram", event_id=f"tg:{n}", source_id="4242", received_at=datetime.now(UTC),
        name="Ирина", text=text, thread_ref="4242",
        identities=(IdentityClaim("telegram", "4242", Confidence.VERIFIED),), **extra)


async def test_messenger_lead_keyboard_accept_reply_and_live_messages(ui: Ui, browser, shots) -> None:  # type: ignore[no-untyped-def]
    from channels.types import Attachment

    responder = RecordingResponder("telegram")
    ui.client.app[RESPONDERS]["telegram"] = responder
    olga = await ui.add_user("olga", Role.MANAGER)
    page = await ui.new_page(browser)
    await ui.sign_in(page, "olga")
    await go_available(ui, page, olga)
    accepted = await ui.client.app[INTAKE].emit(telegram("Есть диван в наличии?", 1, attachments=(
        Attachment("sofa.jpg", "image/jpeg", 5, b"\xff\xd8jpg"),)))
    card = page.locator(".offer-card")
    await card.wait_for()
    assert "Telegram: 4242" in await card.inner_text()
    await page.keyboard.press("Alt+A")                      # the shortcut shown on the button
    lead = page.locator(f".lead-card[data-lead-id='{accepted.lead_id}']")
    await lead.wait_for()
    link = lead.locator(".attachments a")
    assert await link.inner_text() == "sofa.jpg"
    assert (await link.get_attribute("href")).startswith("/api/v1/interactions/")
    async with page.expect_download() as download_info:
        await link.click()
    download = await download_info.value
    assert download.suggested_filename == "sofa.jpg"

    await lead.locator(".reply textarea").fill("Да, есть. Привезём завтра.")
    await lead.locator(".reply button[type=submit]").click()
    await page.wait_for_selector(".reply-status.ok")
    await page.wait_for_selector(".timeline-item.dir-outbound:has-text('Привезём завтра') .delivery-sent")
    assert [m.text for m in responder.sent] == ["Да, есть. Привезём завтра."]

    # A failed delivery is shown, and the text stays in the box.
    responder.fail = "bot was blocked by the user"
    await page.locator(".reply textarea").fill("Вы тут?")
    await page.locator(".reply button[type=submit]").click()
    await page.wait_for_selector(".reply-status.error:has-text('bot was blocked by the user')")
    await page.wait_for_selector(".timeline-item.dir-outbound:has-text('Вы тут?') .delivery-failed")
    assert await page.locator(".reply textarea").input_value() == "Вы тут?"

    # The client writes again: it lands on the open card at once, without a reload.
    await ui.client.app[INTAKE].emit(telegram("Спасибо! Жду.", 2))
    await page.wait_for_selector(".timeline-item.dir-inbound:has-text('Спасибо! Жду.')")
    await shots.take(page)
    assert ui.errors == []


XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_TEXT = "<script>alert(2)</script><b>bold?</b>"


async def test_what_a_customer_typed_is_shown_literally_never_run(ui: Ui, browser, shots) -> None:  # type: ignore[no-untyped-def]
    olga = await ui.add_user("olga", Role.MANAGER)
    page = await ui.new_page(browser)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    await ui.sign_in(page, "olga")
    await go_available(ui, page, olga)
    lead_id = await ui.post_form(name=XSS_NAME, phone="+79123456780", message=XSS_TEXT,
                                 utm_source="<svg onload=alert(3)>")
    card = page.locator(".offer-card")
    await card.wait_for()
    assert await card.locator(".client-name").inner_text() == XSS_NAME
    assert XSS_TEXT in await card.locator(".timeline .text").all_inner_texts()
    await card.locator("button.accept").click()
    await page.wait_for_selector(f".lead-card[data-lead-id='{lead_id}'] .client-name")
    await page.wait_for_timeout(300)
    assert await page.locator(".lead-card .client-name").inner_text() == XSS_NAME
    assert "<svg onload=alert(3)>" in await page.locator(".lead-card .source").inner_text()
    assert await page.locator("main img, main svg[onload], main script, main b").count() == 0
    assert dialogs == []
    await shots.take(page)


@pytest.fixture
def ui_settings() -> dict[str, object]:  # noqa: F811
    return {"leads": {"fields": {"budget": {"label": "Budget", "label_ru": "Бюджет", "required": True},
                                 "city": {"label": "City", "label_ru": "Город", "choices": ["Moscow", "Yerevan"]}}}}


async def test_a_lead_with_an_empty_required_field_cannot_be_closed(ui: Ui, browser, shots) -> None:  # type: ignore[no-untyped-def]
    olga = await ui.add_user("olga", Role.MANAGER)
    page = await ui.new_page(browser)
    await ui.sign_in(page, "olga")
    await go_available(ui, page, olga)
    lead_id = await ui.post_form(name="Pavel", phone="+37491234567")
    await page.locator(".offer-card button.accept").click()
    lead = page.locator(f".lead-card[data-lead-id='{lead_id}']")
    await lead.wait_for()
    assert "+374 91 234 567" in await lead.locator(".identities").inner_text()
    await lead.locator(".stage-closed").click()
    await lead.locator(".ask button[type=submit]").click()
    await page.wait_for_selector(".lead-error:has-text('fill in budget before closing the lead')")
    assert await page.locator(".fields-form [data-field=budget].invalid").count() == 1
    await shots.take(page, "refused")
    await page.locator(".fields-form [data-field=budget]").fill("100 000")
    await page.locator(".fields-form select[data-field=city]").select_option("Yerevan")
    await page.locator(".fields-form button[type=submit]").click()
    await page.wait_for_selector(".fields-form .form-status:has-text('Saved')")
    await page.locator(".stage-closed").click()
    await page.locator(".ask select[name=outcome]").select_option("handed_over")
    await page.locator(".ask input[name=handed_over_to]").fill("the Yerevan office")
    await page.locator(".ask button[type=submit]").click()
    await page.wait_for_selector(".lead-card .badge.status-closed")
    await page.locator(".stage-lost").click()     # reopening is not allowed from closed: the refusal shows
    await page.locator(".ask input[name=lost_reason]").fill("too far")
    await page.locator(".ask button[type=submit]").click()
    await page.wait_for_selector(".lead-error:not([hidden])")


async def test_a_pending_offer_comes_back_after_the_connection_drops(ui: Ui, browser, shots) -> None:  # type: ignore[no-untyped-def]
    from gateway.keys import HUB

    olga = await ui.add_user("olga", Role.MANAGER)
    page = await ui.new_page(browser)
    blocked = {"on": False}

    async def route(ws) -> None:  # type: ignore[no-untyped-def]
        if blocked["on"]:
            await ws.close()
        else:
            ws.connect_to_server()

    await page.route_web_socket("**/ws", route)
    await ui.sign_in(page, "olga")
    await go_available(ui, page, olga)
    blocked["on"] = True
    await ui.client.app[HUB].close_all()                 # the server drops every socket
    await page.wait_for_selector("#conn-banner:not([hidden])")
    lead_id = await ui.post_form(name="While you were away", phone="+79123456781")
    await page.wait_for_timeout(300)
    assert await page.locator(".offer-card").count() == 0
    await shots.take(page, "offline")
    blocked["on"] = False
    card = page.locator(f".offer-card[data-lead-id='{lead_id}']")
    await card.wait_for()                    # resent on connect
    await page.wait_for_selector("#conn-banner", state="hidden")
    assert "While you were away" in await card.inner_text()
    # A reload shows it again too, and it can still be accepted.
    await page.reload()
    await card.wait_for()
    await card.locator("button.accept").click()
    await page.wait_for_selector(f".lead-card[data-lead-id='{lead_id}']")


async def test_russian_locale_renders_russian_labels(ui: Ui, browser, shots) -> None:  # type: ignore[no-untyped-def]
    olga = await ui.add_user("olga", Role.MANAGER, locale="ru", display_name="Ольга")
    page = await ui.new_page(browser, locale="en-US")
    await ui.sign_in(page, "olga")
    await page.wait_for_selector("#presence [data-presence=available]:has-text('На линии')")
    assert await page.locator("html").get_attribute("lang") == "ru"
    assert await page.locator(".incoming-col h2").inner_text() == "Входящие"
    await go_available(ui, page, olga)
    await ui.post_form(name="Иван", phone="89123456782", message="Перезвоните")
    card = page.locator(".offer-card")
    await card.wait_for()
    text = await card.inner_text()
    assert "Принять" in text and "Отклонить" in text and "Новое обращение: форма" in text
    assert "8 (912) 345-67-82" in text
    await card.locator("button.accept").click()
    await page.wait_for_selector(".lead-card .stage-in_progress:has-text('В работе')")
    assert "Бюджет *" in await page.locator(".fields-form").inner_text()
    await shots.take(page)


async def test_a_ringing_call_pops_takes_the_form_while_talking_and_leaves_when_cancelled(ui: Ui, browser, shots) -> None:  # type: ignore[no-untyped-def]
    from gateway.keys import HUB

    olga = await ui.add_user("olga", Role.MANAGER)
    page = await ui.new_page(browser)
    await ui.sign_in(page, "olga")
    await go_available(ui, page, olga)
    lead_id = await ui.post_form(name="Caller", phone="+79123456783")
    await page.locator(".offer-card button.accept").click()
    await page.wait_for_selector(f".lead-card[data-lead-id='{lead_id}']")
    hub = ui.client.app[HUB]
    card = {"lead": {"id": lead_id, "channel": "voice", "attributes": {}}, "owner": None,
            "contact": {"display_name": "Caller", "identities": [{"kind": "phone", "value": "+79123456783"}]},
            "timeline": [], "other_open_leads": []}
    await hub.send(olga, "call.ringing", {"call_id": "c-1", "lead_id": lead_id, "caller": "+79123456783",
                                          "caller_name": "<i>Caller</i>", "queue": "sales", "did": "+74951234567",
                                          "extension": "101", "card": card})
    call = page.locator(".call-card[data-call-id='c-1']")
    await call.wait_for()
    assert "8 (912) 345-67-83" in await call.inner_text() and "<i>Caller</i>" in await call.inner_text()
    await hub.send(olga, "call.answered", {"call_id": "c-1", "lead_id": lead_id})
    await call.locator(".fields-form [data-field=budget]").fill("5000")
    await call.locator(".fields-form button[type=submit]").click()
    await call.locator(".form-status:has-text('Saved')").wait_for()
    await hub.send(olga, "call.ended", {"call_id": "c-1", "lead_id": lead_id, "talk_seconds": 65, "missed": False})
    await call.locator(".call-state:has-text('talked 1:05')").wait_for()
    await shots.take(page)
    await hub.send(olga, "call.ring_stopped", {"call_id": "c-1", "lead_id": lead_id, "reason": "answered_elsewhere"})
    await call.wait_for(state="detached")

    # Click-to-call without a phone system ([ami] unset): the refusal is on screen.
    await page.locator(".lead-card .call-button").click()
    await page.wait_for_selector(".lead-card .call-status.error")
