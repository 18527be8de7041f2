"""embed.js end to end: run in Node on a stand-in DOM, posting with Node's real fetch to a real server."""
from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from channels.types import Accepted, InboundContact
from channels.webform import WebFormChannel
from channels.webform.config import DEFAULT_FORM
from channels.webform.embed import WORDS

NODE = shutil.which("node")
HARNESS = Path(__file__).with_name("embed_harness.js")
pytestmark = pytest.mark.skipif(NODE is None, reason="needs Node.js to run embed.js")


async def run_embed(tmp_path: Path, values: dict[str, str],
                    lang: str = "") -> tuple[dict[str, Any], list[InboundContact]]:
    contacts: list[InboundContact] = []

    async def emit(contact: InboundContact) -> Accepted:
        contacts.append(contact)
        return Accepted(1, 1, 1)

    app = web.Application()
    WebFormChannel({"default": DEFAULT_FORM}, emit, region="RU").add_routes(app)
    async with TestServer(app, host="127.0.0.1", port=0) as server:
        url = str(server.make_url("/forms/default/embed.js"))
        script = tmp_path / "embed.js"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            script.write_text(await response.text(), encoding="utf-8")
        process = await asyncio.create_subprocess_exec(
            NODE, str(HARNESS), url, str(script), json.dumps(values), lang,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, err.decode()
    return json.loads(out), contacts


async def test_embed_posts_json_with_a_submission_id(tmp_path: Path) -> None:
    outcome, contacts = await run_embed(tmp_path, {"name": "<img src=x onerror=alert(1)>",
                                                   "phone": "8 912 345 67 89", "message": "Перезвоните"})
    assert outcome["status"] == DEFAULT_FORM.success_message
    assert outcome["title"] == DEFAULT_FORM.title and outcome["honeypotHidden"]
    assert outcome["phoneValue"] == ""          # the form was reset after success
    [contact] = contacts
    assert (contact.name, contact.phone, contact.text) == ("<img src=x onerror=alert(1)>", "+79123456789",
                                                           "Перезвоните")
    form_key, submission_id = contact.event_id.split(":", 1)
    assert form_key == "default" and len(submission_id) == 36      # crypto.randomUUID()
    assert contact.attributes["utm_source"] == "vk"
    assert contact.attributes["page"] == "https://shop.example/landing?utm_source=vk&x=1"
    assert contact.attributes["referrer"] == "https://yandex.ru/"


async def test_embed_shows_the_error_and_marks_the_field(tmp_path: Path) -> None:
    outcome, contacts = await run_embed(tmp_path, {"name": "Anna", "phone": "12345"})
    assert contacts == []
    assert outcome["status"] == "not a valid phone number"
    assert outcome["invalid"] == ["phone"]
    assert outcome["phoneValue"] == "12345"     # kept, so the person can correct it


async def test_the_form_speaks_the_sites_language_chosen_by_data_lang(tmp_path: Path) -> None:
    english, _ = await run_embed(tmp_path, {"name": "Anna", "phone": "12345"})
    assert english["labels"] == ["Name", "Phone", "E-mail", "Message"] and english["button"] == "Send"
    outcome, contacts = await run_embed(tmp_path, {"name": "Анна", "phone": "12345"}, lang="ru")
    assert outcome["labels"] == ["Имя", "Телефон", "Эл. почта", "Сообщение"]
    assert (outcome["title"], outcome["button"]) == ("Напишите нам", "Отправить")
    # The server's English message becomes the field's name in the visitor's language.
    assert (outcome["status"], outcome["invalid"], contacts) == ("Проверьте, пожалуйста, поле «Телефон».", ["phone"], [])
    done, contacts = await run_embed(tmp_path, {"name": "Анна", "phone": "8 912 345 67 89"}, lang="ru")
    assert done["status"] == "Спасибо! Мы скоро с вами свяжемся." and len(contacts) == 1
    unknown, _ = await run_embed(tmp_path, {"name": "Anna", "phone": "12345"}, lang="xx")
    assert unknown["button"] == "Send"          # a language without words is English


def test_every_language_of_the_form_has_every_word() -> None:
    english = set(WORDS["en"])
    assert set(WORDS) >= {"en", "ru"}
    for lang, words in WORDS.items():
        assert set(words) == english and all(text.strip() for text in words.values()), lang
