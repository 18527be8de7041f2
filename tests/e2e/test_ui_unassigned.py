"""The console's list of work nobody has taken, beside "My leads", with counts; taking one makes it mine."""
from __future__ import annotations

from crm_store.types import Role
from ui_conftest_helpers import SQLITE_ONLY, Ui, ui, ui_settings  # noqa: F401

pytestmark = SQLITE_ONLY


async def test_the_unassigned_tab_lists_counts_and_takes_waiting_work(ui: Ui, browser) -> None:  # type: ignore[no-untyped-def]
    await ui.add_user("olga", Role.OPERATOR, display_name="Olga Petrova")
    lead_id = await ui.post_form(name="Армен Петросян", phone="+7 912 345-67-89")   # nobody is available
    page = await ui.new_page(browser)
    await ui.sign_in(page, "olga")
    await page.wait_for_selector("#list-title [data-view=mine]:has-text('(0)')")
    unassigned = page.locator("#list-title [data-view=unassigned]")
    await unassigned.filter(has_text="(1)").wait_for()
    await unassigned.click()
    row = page.locator(f"#lead-list [data-lead-id='{lead_id}']")
    await row.filter(has_text="Армен Петросян").wait_for()
    await row.locator("button.take").click()
    await page.wait_for_selector("#list-title [data-view=mine]:has-text('(1)')")
    await page.wait_for_selector("#list-title [data-view=unassigned]:has-text('(0)')")
    await page.wait_for_selector(f"#lead-list [data-lead-id='{lead_id}']")
    await page.wait_for_selector(".lead-card .assignee-name:has-text('Olga Petrova')")
