"""The admin page in a real browser, in English and Russian, one page each: create a user (a refused field shown
next to it first), edit their capacity, disable and enable them, reset their password and sign in as them with
the one-time password (which makes them choose their own); then the audit log filtered to user creations shows
that create, and its CSV download too; and the board's team filter."""
from __future__ import annotations

import asyncio

import pytest

from crm_store.types import Role
from ui_conftest_helpers import SQLITE_ONLY, Ui, ui, ui_settings  # noqa: F401

pytestmark = SQLITE_ONLY

WORDS = {"en": {"tab": "Users", "disabled": "disabled", "active": "active", "audit": "Audit log"},
         "ru": {"tab": "Пользователи", "disabled": "отключён", "active": "активен", "audit": "Журнал аудита"}}


def box(name: str) -> str:
    return f"#user-form [data-field='{name}']"


@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_user_screen_then_audit_screen(ui: Ui, browser, shots, lang: str) -> None:  # type: ignore[no-untyped-def]
    words = WORDS[lang]
    await ui.add_user("root", Role.ADMIN, display_name="Root", locale=lang)
    root = await ui.login("root")
    made = await ui.client.post("/api/v1/teams", json={"name": "Sales"}, headers=root)
    assert made.status == 201

    page = await ui.new_page(browser)
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await ui.sign_in(page, "root", to="/admin")
    assert await page.locator("#tab-users").inner_text() == words["tab"]
    assert await page.locator("#tab-users").get_attribute("aria-selected") == "true"

    # A password the server refuses: its reason next to the password field, nothing created.
    await page.fill(f"{box('username')} input", "nina")
    await page.fill(f"{box('password')} input", "short")
    await page.fill(f"{box('display_name')} input", "Нина Смирнова")
    await page.select_option(f"{box('team')} select", "Sales")
    await page.fill(f"{box('capacity.chat')} input", "3")
    await page.click("#user-form button[type=submit]")
    await page.wait_for_selector(f"{box('password')} .field-error:has-text('password')")
    assert await page.locator(f"{box('password')} input").get_attribute("aria-invalid") == "true"
    await page.fill(f"{box('password')} input", "a long first password")
    await page.click("#user-form button[type=submit]")
    row = "#users-table tr[data-username='nina']"
    await page.wait_for_selector(f"{row}:has-text('Нина Смирнова'):has-text('Sales')")
    users = {u["username"]: u for u in (await (await ui.client.get("/api/v1/users", headers=root)).json())["items"]}
    nina = users["nina"]
    assert nina["capacity"] == {"voice": 1, "chat": 3, "email": 8} and nina["role"] == "operator"

    # Edit: capacity for chats and calls.
    await page.click(f"{row} .user-edit")
    assert await page.locator(f"{box('capacity.chat')} input").input_value() == "3"
    await page.fill(f"{box('capacity.chat')} input", "5")
    await page.fill(f"{box('capacity.voice')} input", "2")
    await page.click("#user-form button[type=submit]")
    await page.wait_for_selector(f"{row} .user-capacity:has-text('chat=5')")

    async def stored() -> dict:  # type: ignore[type-arg]
        listed = (await (await ui.client.get("/api/v1/users", headers=root)).json())["items"]
        return next(u for u in listed if u["username"] == "nina")
    assert {k: (await stored())["capacity"][k] for k in ("chat", "voice")} == {"chat": 5, "voice": 2}

    # Disable, then enable again.
    await page.click(f"{row} .user-active")
    await page.wait_for_selector(f"{row} .user-state:has-text('{words['disabled']}')")
    assert (await stored())["active"] is False
    await page.click(f"{row} .user-active")
    await page.wait_for_selector(f"{row} .user-state:has-text('{words['active']}')")

    # Reset the password: shown once, and it lets them in.
    await page.click(f"{row} .user-reset")
    secret = (await (await page.wait_for_selector("#one-time-password code.password")).inner_text()).strip()
    assert len(secret) >= 12
    theirs = await ui.new_page(browser)
    await theirs.goto("/login?next=/console")
    await theirs.fill("#username", "nina")
    await theirs.fill("#password", secret)
    await theirs.click("#login-submit")
    # The one-time password only lets them choose their own; then on to the console.
    await theirs.fill("#new-password", "nina's own secret")
    await theirs.fill("#new-password-again", "nina's own secret")
    await theirs.click("#change-submit")
    await theirs.wait_for_url("**/console")
    await theirs.context.close()

    # The audit log, filtered to user creations, shows nina's create and nothing else.
    await page.click("#tab-audit")
    assert await page.locator("#admin-section h2").inner_text() == words["audit"]
    await page.wait_for_selector("#audit-table tr[data-action='auth.login']")
    await page.fill("#audit-filters [data-field='action'] input", "user.create")
    await page.click("#audit-filters button[type=submit]")
    await page.wait_for_function("""() => {
        const rows = [...document.querySelectorAll('#audit-table tbody tr')];
        return rows.length === 1 && rows[0].dataset.action === 'user.create'; }""")
    assert "nina" in await page.locator("#audit-table tbody tr .audit-detail").inner_text()
    csv = await page.request.get(await page.locator("#audit-csv").get_attribute("href"))
    assert csv.ok and "text/csv" in csv.headers["content-type"]
    lines = (await csv.text()).strip().splitlines()
    assert len(lines) == 2 and "user.create" in lines[1] and "nina" in lines[1]
    await shots.take(page)

    # The board filters by the teams the API lists: a lead of no team leaves the board when "Sales" is chosen.
    lead = await ui.post_form(name="Anna Petrova", phone="+79123450001")
    await page.goto("/board")
    await page.wait_for_selector(f".card[data-lead-id='{lead}']")
    await page.select_option("#team", label="Sales")
    await page.wait_for_selector(f".card[data-lead-id='{lead}']", state="detached")
    assert ui.errors == []
