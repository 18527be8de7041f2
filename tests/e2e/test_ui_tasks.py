"""My tasks in the browser: overdue, today and upcoming with counts in the top bar, and a reminder popping
(sound and desktop notification asked for, the pop shown) in English and in Russian."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crm_store.types import Role
from ui_conftest_helpers import SQLITE_ONLY, Ui, ui, ui_settings  # noqa: F401

pytestmark = SQLITE_ONLY


@pytest.mark.parametrize("locale, title, reminder", [("en", "My tasks", "Reminder: Call"),
                                                     ("ru", "Мои задачи", "Напоминание: Звонок")])
async def test_my_tasks_lists_and_counts_and_a_reminder_pops(ui: Ui, browser, locale, title, reminder) -> None:  # type: ignore[no-untyped-def]
    olga = await ui.add_user("olga", Role.SUPERVISOR, display_name="Olga", locale=locale)
    lead_id = await ui.post_form(name="Анна Смирнова", phone="+7 912 345-67-80")
    headers = await ui.login("olga")
    now = datetime.now(UTC)
    for kind, due in (("meeting", now - timedelta(hours=2)), ("email", now + timedelta(days=3))):
        made = await ui.client.post("/api/v1/tasks", json={"lead_id": lead_id, "kind": kind, "due_at": due.isoformat(),
                                                            "assignee_id": olga, "note": kind}, headers=headers)
        assert made.status == 201, await made.text()
    page = await ui.new_page(browser)
    await ui.sign_in(page, "olga", to="/tasks")
    await page.wait_for_selector(f"h1:has-text('{title}')")
    await page.wait_for_selector("#list-overdue .task:has-text('Анна Смирнова')")
    await page.wait_for_selector("#list-upcoming .task:has-text('Анна Смирнова')")
    await page.wait_for_selector("#task-counts:has-text('1')")
    await page.wait_for_selector("#list-team .task")                 # a supervisor sees everyone's overdue
    # A call due a moment ago: the timer fires it at once and the open screen pops it.
    due = await ui.client.post("/api/v1/tasks", json={"lead_id": lead_id, "kind": "call", "note": "перезвонить",
                                                      "due_at": (now - timedelta(seconds=1)).isoformat()},
                               headers=headers)
    assert due.status == 201, await due.text()
    pop = page.locator(".reminder")
    await pop.filter(has_text=reminder).wait_for()
    await pop.filter(has_text="перезвонить").wait_for()
    await page.locator("#list-overdue .task", has_text="перезвонить").wait_for()
    await pop.locator("button").click()
    await pop.wait_for(state="detached")
    # The lead card (opened by the reminder's link) adds a task with a quick choice.
    await page.goto(f"/console?lead={lead_id}")
    tasks_on_card = page.locator(f".lead-card[data-lead-id='{lead_id}'] .task-box li.task")
    await tasks_on_card.filter(has_text="перезвонить").wait_for()
    await page.fill(".task-box .task-note-input", "договор")
    await page.click(".task-box button[data-due=tomorrow_10]")
    await tasks_on_card.filter(has_text="договор").wait_for()
    assert not [e for e in ui.errors if "pageerror" in e]

