"""My tasks in the browser: overdue, today and upcoming with counts in the top bar (live when a reminder
falls due), everyone's overdue for a supervisor, a reminder popping (sound and desktop notification asked for,
the pop shown) in English and in Russian; a task made from a board card with a quick choice, response clocks on
the board, the lead card and the wallboard, and a quick reply typed by its short code."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from channels.types import Confidence, IdentityClaim, InboundContact
from crm_store.types import Role
from gateway.keys import INTAKE, RESPONDERS
from ui_conftest_helpers import SQLITE_ONLY, RecordingResponder, Ui, ui  # noqa: F401

pytestmark = SQLITE_ONLY


@pytest.fixture
def ui_settings() -> dict:
    # A first-response target of 60 ms: a client who wrote is overdue for an answer by the time a page draws.
    return {"clocks": {"default": {"first_response_minutes": 0.001}}}


@pytest.mark.parametrize("locale, title, reminder", [("en", "My tasks", "Reminder: Call"),
                                                     ("ru", "Мои задачи", "Напоминание: Звонок")])
async def test_my_tasks_lists_and_counts_and_a_reminder_pops(ui: Ui, browser, locale, title, reminder) -> None:  # type: ignore[no-untyped-def]
    olga = await ui.add_user("olga", Role.SUPERVISOR, display_name="Olga", locale=locale)
    ivan = await ui.add_user("ivan", Role.MANAGER, display_name="Иван Петров")
    lead_id = await ui.post_form(name="Анна Смирнова", phone="+7 912 345-67-80")
    headers = await ui.login("olga")
    now = datetime.now(UTC)
    for kind, due, who in (("meeting", now - timedelta(hours=2), olga), ("email", now + timedelta(days=3), olga),
                           ("other", now - timedelta(hours=5), ivan)):
        made = await ui.client.post("/api/v1/tasks", json={"lead_id": lead_id, "kind": kind, "due_at": due.isoformat(),
                                                            "assignee_id": who, "note": kind}, headers=headers)
        assert made.status == 201, await made.text()
    page = await ui.new_page(browser)
    await ui.sign_in(page, "olga", to="/tasks")
    await page.wait_for_selector(f"h1:has-text('{title}')")
    await page.wait_for_selector("#list-overdue .task:has-text('Анна Смирнова')")
    await page.wait_for_selector("#list-upcoming .task:has-text('Анна Смирнова')")
    await page.wait_for_selector("#task-counts:has-text('1')")
    # A supervisor sees every manager's overdue work, each with whose it is; her own list has only hers.
    await page.locator("#list-team .task", has_text="Иван Петров").wait_for()
    assert await page.locator("#list-overdue .task").count() == 1
    # The top bar counts my overdue tasks beside "My tasks" (nothing else is due today).
    overdue_badge = page.locator("#nav a[href='/tasks'] .nav-overdue")
    await page.locator("#nav a[href='/tasks'] .nav-overdue:text-is('1')").wait_for()
    assert await page.locator("#nav a[href='/tasks'] .nav-today").count() == 0
    # A call due a moment ago: the timer fires it at once and the open screen pops it.
    due = await ui.client.post("/api/v1/tasks", json={"lead_id": lead_id, "kind": "call", "note": "перезвонить",
                                                      "due_at": (now - timedelta(seconds=1)).isoformat()},
                               headers=headers)
    assert due.status == 201, await due.text()
    pop = page.locator(".reminder")
    await pop.filter(has_text=reminder).wait_for()
    await pop.filter(has_text="перезвонить").wait_for()
    await page.locator("#list-overdue .task", has_text="перезвонить").wait_for()
    await page.locator("#nav a[href='/tasks'] .nav-overdue:text-is('2')").wait_for()   # the reminder re-read it
    assert await overdue_badge.get_attribute("title") in ("2 overdue", "Просрочено: 2")
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


def telegram(text: str) -> InboundContact:
    return InboundContact(channel="telegram", event_id="tg:1", source_id="4242", received_at=datetime.now(UTC),
                          name="Ирина", text=text, thread_ref="4242",
                          identities=(IdentityClaim("telegram", "4242", Confidence.VERIFIED),))


async def test_board_task_response_clocks_and_a_quick_reply_by_code(ui: Ui, browser) -> None:  # type: ignore[no-untyped-def]
    ui.client.app[RESPONDERS]["telegram"] = RecordingResponder("telegram")
    olga = await ui.add_user("olga", Role.SUPERVISOR, display_name="Ольга", locale="ru")
    headers = await ui.login("olga")
    lead_id = (await ui.client.app[INTAKE].emit(telegram("Сколько стоит доставка?"))).lead_id
    assigned = await ui.client.patch(f"/api/v1/leads/{lead_id}", json={"assignee_id": olga}, headers=headers)
    assert assigned.status == 200, await assigned.text()
    template = {"code": "hello", "title": "Приветствие", "shared": True,
                "texts": {"default": "Hello", "telegram": "Здравствуйте, {client_name}! Я {manager_name}, "
                                                          "обращение №{lead_id}."}}
    assert (await ui.client.post("/api/v1/templates", json=template, headers=headers)).status == 201
    page = await ui.new_page(browser)
    await ui.sign_in(page, "olga", to="/board")

    # The board's card: the client's answer is overdue, and a task is added with a quick choice.
    card = page.locator(f".card[data-lead-id='{lead_id}']")
    await card.locator(".response-breached:text-is('Ответ просрочен')").wait_for()
    await card.locator(".card-add-task:text-is('+ Задача')").click()
    await card.locator(".task-note-input").fill("выслать счёт")
    await card.locator("button[data-due=next_monday_10]").click()
    await page.locator(f".card[data-lead-id='{lead_id}'] .card-task").wait_for()
    quick = await (await ui.client.get("/api/v1/tasks/quick", headers=headers)).json()
    made = (await (await ui.client.get(f"/api/v1/tasks?lead_id={lead_id}", headers=headers)).json())["items"]
    assert [(t["note"], t["due_at"], t["assignee_id"]) for t in made] == [
        ("выслать счёт", quick["choices"]["next_monday_10"]["due_at"], olga)]

    # The wallboard counts the queue's clients whose answer is overdue.
    await page.goto("/wallboard")
    await page.locator(".tile[data-queue='default'] [data-stat=response_breached] .stat-value:text-is('1')").wait_for()

    # The lead card shows the clock too; "/hel" in the reply box offers the template filled in for this lead.
    await page.goto(f"/console?lead={lead_id}")
    lead = page.locator(f".lead-card[data-lead-id='{lead_id}']")
    await lead.locator(".task-box .response-breached").wait_for()
    await lead.locator(".reply textarea").press_sequentially("/hel")
    await lead.locator(".quick-replies button[data-code=hello]").click()
    assert await lead.locator(".reply textarea").input_value() == \
        f"Здравствуйте, Ирина! Я Ольга, обращение №{lead_id}."
    await lead.locator(".reply button[type=submit]").click()
    await page.wait_for_selector(".reply-status.ok")
    assert [m.text for m in ui.client.app[RESPONDERS]["telegram"].sent] == [
        f"Здравствуйте, Ирина! Я Ольга, обращение №{lead_id}."]
    assert not [e for e in ui.errors if "pageerror" in e]
