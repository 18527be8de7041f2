"""The client's page in a real browser, in English and Russian: a call's recording plays, a phone is added,
custom fields are edited with an input per type and kept."""
from __future__ import annotations

import math
import struct
import uuid
import wave
from pathlib import Path
from typing import Any

import pytest

from crm_store import leads
from crm_store.ingest import utcnow
from crm_store.types import Claim, IngestRequest, Role
from gateway.keys import INGESTOR, SESSIONS
from ui_conftest_helpers import SQLITE_ONLY, Ui, ui, ui_settings  # noqa: F401

pytestmark = SQLITE_ONLY

LABELS = {"en": {"leads": "Leads", "saved": "Saved"}, "ru": {"leads": "Обращения", "saved": "Сохранено"}}


def write_wav(path: Path, seconds: float = 2.0, rate: int = 8000) -> None:
    """A real, tiny WAV (a 440 Hz tone) the browser can decode and play."""
    frames = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate)))
                      for n in range(int(seconds * rate)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)


@pytest.fixture
def browser_args(browser_args: list[str]) -> list[str]:
    return [*browser_args, "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture
def recordings(tmp_path: Path) -> Path:
    folder = tmp_path / "recordings"
    folder.mkdir()
    write_wav(folder / "rec-1.wav")
    return folder


@pytest.fixture
def ui_settings(recordings: Path) -> dict[str, Any]:  # noqa: F811
    return {"voice": {"recordings_dir": str(recordings)}}


async def _ingest(ui: Ui, channel: str, text: str, attributes: dict[str, Any]) -> Any:
    return await ui.client.app[INGESTOR].ingest(IngestRequest(
        channel=channel, event_id=uuid.uuid4().hex, received_at=utcnow(), text=text, name="Анна Петрова",
        claims=(Claim("phone", "+79161112233", True, "stated"),), primary_kind="phone", attributes=attributes))


@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_client_page_plays_a_recording_and_edits_fields(ui: Ui, browser, shots, lang: str) -> None:  # type: ignore[no-untyped-def]
    await ui.add_user("root", Role.ADMIN)
    olga = await ui.add_user("olga", Role.MANAGER, display_name="Olga", locale=lang, extension="101")
    admin = await ui.login("root")
    town = await (await ui.client.post("/api/v1/directories", json={
        "name": "cities", "label": "City", "label_ru": "Город", "values": ["Москва", "Казань"]}, headers=admin)).json()
    for spec in ({"name": "town", "label": "Town", "label_ru": "Город", "kind": "directory", "directory_id": town["id"]},
                 {"name": "employees", "label": "Employees", "label_ru": "Сотрудников", "kind": "number"},
                 {"name": "needs", "label": "Needs", "label_ru": "Нужно", "kind": "multi_choice",
                  "choices": ["crm", "phones"]}):
        made = await ui.client.post("/api/v1/fields", json={"entity": "contact", **spec}, headers=admin)
        assert made.status == 201, await made.text()
    form = await _ingest(ui, "form", "Need a quote", {})
    async with ui.client.app[SESSIONS]() as session, session.begin():
        await leads.assign(session, form.lead_id, olga, utcnow())
    call = await _ingest(ui, "voice", "Incoming call", {
        "call_id": "c-1", "direction": "inbound", "status": "ended", "outcome": "answered", "caller_name": "Анна",
        "answered_by": olga, "wait_seconds": 5, "talk_seconds": 2, "recording": "/var/spool/asterisk/monitor/rec-1.wav"})
    contact = form.contact_id

    page = await ui.new_page(browser)
    await ui.sign_in(page, "olga", to=f"/clients/{contact}")
    await page.wait_for_selector(".client-title:text-is('Анна Петрова')")
    assert await page.locator(".client-leads h2").inner_text() == LABELS[lang]["leads"]
    assert await page.locator(f".client-leads tr[data-lead-id='{form.lead_id}']").count() == 1

    # The call: who answered, and a recording that really plays.
    item = page.locator(f".timeline-item[data-interaction-id='{call.interaction_id}']")
    assert "Olga" in await item.locator(".call-line").inner_text()
    audio = item.locator("audio.recording")
    duration = await audio.evaluate("""(el) => new Promise((done, fail) => {
        if (el.readyState >= 1) return done(el.duration);
        el.addEventListener('loadedmetadata', () => done(el.duration), { once: true });
        el.addEventListener('error', () => fail(new Error('audio error ' + (el.error && el.error.code))), { once: true });
    })""")
    assert duration > 1.5
    await audio.evaluate("(el) => el.play()")
    await page.wait_for_function("(id) => document.querySelector(`.timeline-item[data-interaction-id='${id}'] audio`)"
                                 ".currentTime > 0", arg=call.interaction_id)

    # A phone added by hand is normalised; custom fields, one input per type, are kept.
    await page.select_option(".add-identity select[name='kind']", "phone")
    await page.fill(".add-identity input[name='value']", "8 916 777-88-99")
    await page.click(".add-identity button[type='submit']")
    await page.wait_for_selector(".identity-value[title='+79167778899']")
    fields_form = page.locator(".client-main .fields-form")
    await fields_form.locator("select[data-field='town']").select_option(label="Казань")
    await fields_form.locator("input[data-field='employees']").fill("40")
    await fields_form.locator("[data-field='needs'] input[value='phones']").check()
    await fields_form.locator("button[type='submit']").click()
    await fields_form.locator(f".form-status:text-is('{LABELS[lang]['saved']}')").wait_for()
    await shots.take(page, lang)

    saved = await (await ui.client.get(f"/api/v1/contacts/{contact}", headers=admin)).json()
    kazan = next(v["id"] for v in town["values"] if v["value"] == "Казань")
    assert saved["fields"] == {"town": kazan, "employees": 40, "needs": ["phones"]}
    await page.reload()
    await page.wait_for_selector(".client-title")
    assert await page.locator(".fields-form select[data-field='town']").input_value() == str(kazan)
    # A value the server refuses is outlined, naming the field.
    await page.locator(".fields-form input[data-field='employees']").fill("1e99")
    await page.locator(".client-main .fields-form button[type='submit']").click()
    await page.wait_for_selector(".fields-form input[data-field='employees'].invalid")
    assert not ui.errors, ui.errors
