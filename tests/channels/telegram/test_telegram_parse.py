"""The pure step: recorded Telegram updates in, InboundContacts out; and the settings table."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from telegram import Update

from channels.plug import BuildContext
from channels.telegram.adapter import TelegramChannel, TelegramResponder, build
from channels.section import read_section
from channels.telegram.config import TelegramConfig
from channels.telegram.parse import parse_update, safe_filename
from simulators.telegram_api import message
from channels.types import Confidence


def config_of(table, region):
    return read_section(TelegramConfig, table, "telegram").in_region(region)


def parse(update: dict[str, Any]):  # type: ignore[no-untyped-def]
    return parse_update(Update.de_json({"update_id": 1, **update}, None), region="RU")


def test_deep_links_with_and_without_utm_and_the_bot_name():
    plain = parse({"message": message(1, "/start promo2026", 1)}).contact
    assert (plain.attributes["deep_link"], plain.text) == ("promo2026", "")
    assert not any(k.startswith("utm_") for k in plain.attributes)
    named = parse({"message": message(1, "/start@shop_bot utm_source-tg__utm_medium-cpc__x-y", 2)}).contact
    assert named.attributes["utm_source"] == "tg" and named.attributes["utm_medium"] == "cpc"
    assert named.attributes["deep_link"] == "utm_source-tg__utm_medium-cpc__x-y"
    bare = parse({"message": message(1, "/start", 3)}).contact
    assert "deep_link" not in bare.attributes
    startle = parse({"message": message(1, "/startle me", 4)}).contact
    assert "deep_link" not in startle.attributes and startle.text == "/startle me"


def test_someone_elses_contact_is_only_mentioned():
    mine = parse({"message": message(5, None, 1, contact={"phone_number": "+7 912 345-67-89", "first_name": "Я",
                                                          "user_id": 5})}).contact
    theirs = parse({"message": message(5, None, 2, contact={"phone_number": "+79001234567",
                                                            "first_name": "Друг"})}).contact
    assert ("phone", "+79123456789", Confidence.VERIFIED) in {(c.kind, c.value, c.confidence) for c in mine.identities}
    assert [(c.value, c.confidence) for c in theirs.identities if c.kind == "phone"] == [
        ("+79001234567", Confidence.MENTIONED)]
    assert len([c for c in mine.identities if c.kind == "phone"]) == 1      # not claimed twice


def test_names_groups_edits_and_what_is_not_a_client():
    group = {"id": -1001, "type": "supergroup", "title": "Опт"}
    body = {**message(7, "Есть скидки?", 3), "chat": group, "from": {"id": 7, "is_bot": False, "first_name": "", "username": "ivan_k"}}
    contact = parse({"message": body}).contact
    assert (contact.source_id, contact.thread_ref, contact.name) == ("-1001", "-1001", "ivan_k")
    assert [c.value for c in contact.identities if c.kind == "telegram"] == ["7"]
    edited = parse({"edited_message": message(7, "v2", 3, edit_date=1_800_000_500)}).contact
    assert edited.event_id == "tg:edit:7:3:1800000500" and edited.attributes["edited"] == "true"
    assert edited.received_at.timestamp() == 1_800_000_500
    bot = message(7, "I am a bot", 4, **{"from": {"id": 99, "is_bot": True, "first_name": "B"}})
    assert parse({"message": bot}) is None
    channel_post = {"message_id": 1, "date": 1_800_000_000, "chat": {"id": -5, "type": "channel"}, "text": "x"}
    assert parse({"channel_post": channel_post}) is None


def test_files_and_phones_in_text():
    parsed = parse({"message": message(8, None, 1, caption="звоните +7 912 000-11-22", audio={
        "file_id": "a", "file_unique_id": "a", "duration": 1, "file_name": "C:\\tmp\\song\x07.mp3",
        "mime_type": "audio/mpeg", "file_size": 3})})
    [ref] = parsed.files
    assert (ref.filename, ref.content_type, ref.size) == ("song.mp3", "audio/mpeg", 3)
    assert ("phone", "+79120001122", Confidence.MENTIONED) in {
        (c.kind, c.value, c.confidence) for c in parsed.contact.identities}
    assert safe_filename("../..") == "attachment"


@pytest.mark.parametrize(("table", "error"), [
    ({}, "telegram.token: required"),
    ({"token": "t", "tokn": "x"}, "telegram.tokn: unknown setting"),
    ({"token": "t", "mode": "hook"}, "telegram.mode"),
    ({"token": "t", "mode": "webhook"}, "telegram.secret_token"),
    ({"token": "t", "secret_token": "not allowed!"}, "telegram.secret_token"),
    ({"token": "t", "poll_timeout": "soon"}, "telegram.poll_timeout"),
    ({"token": "t", "max_file_bytes": 0}, "telegram.max_file_bytes"),
    ({"token": "t", "base_url": "api.telegram.org"}, "telegram.base_url"),
    ({"token": "t", "webhook_path": "telegram/"}, "telegram.webhook_path"),
])
def test_settings_errors_name_the_key(table, error):
    with pytest.raises(ValueError, match=error.replace(".", r"\.")):
        config_of(table, "RU")


def test_settings_defaults_and_strings_from_the_environment():
    config = config_of({"token": "t", "poll_timeout": "5", "max_file_bytes": "2048"}, "KZ")
    assert (config.mode, config.poll_timeout, config.max_file_bytes, config.region) == ("polling", 5, 2048, "KZ")
    assert config.base_url == "https://api.telegram.org/bot"


def test_build_gives_the_channel_and_its_responder():
    async def emit(contact):  # type: ignore[no-untyped-def]
        raise AssertionError

    context = BuildContext(emit=emit, region="RU", storage_dir=Path("unused"))
    parts = build(TelegramConfig(token="1:x"), context)
    [responder], [listening] = parts.responders, parts.listeners
    assert isinstance(listening.listener, TelegramChannel) and isinstance(responder, TelegramResponder)
    assert responder.channel == "telegram" and parts.routes == ()
    assert listening.exclusive, "one process polls a bot: two would fight over getUpdates"
    webhook = build(TelegramConfig(token="1:x", mode="webhook", secret_token="s"), context)
    assert len(webhook.routes) == 2 and not webhook.listeners[0].exclusive
