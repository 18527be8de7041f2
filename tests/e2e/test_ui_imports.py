"""The import screen in a real browser (RU): upload a Windows-1251 CSV, the guessed mapping, a changed column and
its preview, a rehearsal that writes nothing, the run with its live progress and report, the rejects link."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from crm_store.models import Contact
from crm_store.types import Role
from gateway.keys import SESSIONS
from ui_conftest_helpers import SQLITE_ONLY, Ui, eventually, ui, ui_settings  # noqa: F401

pytestmark = SQLITE_ONLY

ROWS = ["ФИО;Телефон;Почта;Компания", "Иванов Иван;8 916 123-45-67;ivan@example.com;Ромашка",
        "Петрова Анна;12-34;anna@example.com;", "Сидоров Пётр;+7 916 765 43 21;petr@example.com;Вектор"]


async def _contacts(ui: Ui) -> int:
    async with ui.client.app[SESSIONS]() as s:
        return int(await s.scalar(select(func.count()).select_from(Contact)))


async def test_mapping_preview_dry_run_and_run(ui: Ui, browser, shots, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    await ui.add_user("root", Role.ADMIN, display_name="Админ", locale="ru")
    data = tmp_path / "клиенты.csv"
    data.write_bytes("\n".join(ROWS).encode("cp1251") + b"\n")
    page = await ui.new_page(browser)
    await ui.sign_in(page, "root", to="/imports")
    await page.wait_for_selector("nav a[aria-current='page']:has-text('Импорт')")
    await page.set_input_files("#file", str(data))
    await page.click("#upload button[type=submit]")

    phone = page.get_by_label("Поле для столбца Телефон")
    await phone.wait_for()
    assert await phone.input_value() == "phone"
    assert await page.get_by_label("Поле для столбца Почта").input_value() == "email"
    first = page.locator("#preview tbody tr").nth(0)
    assert "+79161234567" in await first.inner_text()
    assert "12-34" in await page.locator("#preview tbody tr").nth(1).inner_text()

    # Not importing the e-mail column: the preview follows.
    await page.get_by_label("Поле для столбца Почта").select_option("")
    async def emails_gone() -> bool:
        return "ivan@example.com" not in await page.locator("#preview tbody").inner_text()

    await eventually(emails_gone)

    await page.click("#dry-run")
    await page.wait_for_selector("#progress-text:has-text('Готово')")
    assert "Будет создано клиентов: 2" in await page.locator("#report").inner_text()
    assert await _contacts(ui) == 0

    await page.click("#run")
    await page.wait_for_selector("#report:has-text('Новых клиентов: 2')")
    await page.wait_for_selector("#progress-text:has-text('Готово')")
    await page.wait_for_selector("#rejects:not([hidden])")
    assert (await page.get_attribute("#rejects", "href")).endswith("/rejects.csv")
    await eventually(lambda: _is(ui, 2))
    await shots.take(page)
    assert ui.errors == []


async def _is(ui: Ui, n: int) -> bool:
    return await _contacts(ui) == n
