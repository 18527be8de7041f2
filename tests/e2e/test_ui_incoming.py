"""The incoming column: the keyboard acts on the live card on top, finished cards clear themselves."""
from __future__ import annotations

from crm_store.types import Role
from gateway.keys import HUB
from test_ui_console import go_available
from ui_conftest_helpers import SQLITE_ONLY, Ui, ui, ui_settings  # noqa: F401

pytestmark = SQLITE_ONLY


async def test_alt_a_accepts_the_live_offer_not_a_finished_call_and_the_finished_card_clears(ui: Ui, browser) -> None:  # type: ignore[no-untyped-def]
    olga = await ui.add_user("olga", Role.MANAGER)
    page = await ui.new_page(browser)
    await page.clock.install()            # the finished card's timer is advanced by the test, not waited for
    await ui.sign_in(page, "olga")
    await go_available(ui, page, olga)
    hub = ui.client.app[HUB]
    # A call that rang and was missed: its card stays a moment to show how it ended.
    await hub.send(olga, "call.ringing", {"call_id": "c-9", "lead_id": None, "caller": "+79123456700", "card": None})
    call = page.locator(".call-card[data-call-id='c-9']")
    await call.wait_for()
    await hub.send(olga, "call.ended", {"call_id": "c-9", "lead_id": None, "talk_seconds": 0, "missed": True})
    await page.locator(".call-card.ended[data-call-id='c-9']").wait_for()
    lead_id = await ui.post_form(name="Pavel", phone="+37491234567")
    offer = page.locator(".offer-card:not(.call-card)")
    await offer.wait_for()
    # The new offer is above the finished card, and it is the one marked for the keyboard.
    assert await page.locator("#offers > .offer-card").first.get_attribute("data-offer-id") is not None
    assert await offer.get_attribute("aria-current") == "true"
    assert await call.get_attribute("aria-current") is None
    await page.keyboard.press("Alt+A")
    await page.locator(f".lead-card[data-lead-id='{lead_id}']").wait_for()
    await page.clock.fast_forward(9_000)  # past [console] finished_card_seconds (8 by default)
    await call.wait_for(state="detached")

