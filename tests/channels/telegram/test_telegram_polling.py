"""The real python-telegram-bot polling the simulated Bot API: offsets move only past committed updates."""
from __future__ import annotations

import asyncio
import logging
import socket

import pytest
from aiohttp import web
from telegram.error import InvalidToken

from channels.telegram.adapter import TelegramChannel
from simulators.telegram_api import FakeBotApi, message
from channels.types import Confidence
from telegram_fakes import RecordingEmit, telegram_settings, until

CHAT_MEMBER = {"chat": {"id": -100, "type": "supergroup", "title": "Shop"}, "date": 1_800_000_000,
               "from": {"id": 1, "is_bot": False, "first_name": "Admin"},
               "old_chat_member": {"status": "left", "user": {"id": 5, "is_bot": False, "first_name": "N"}},
               "new_chat_member": {"status": "member", "user": {"id": 5, "is_bot": False, "first_name": "N"}}}
POLL = {"id": "p", "question": "?", "options": [], "total_voter_count": 0, "is_closed": False,
        "is_anonymous": True, "type": "regular", "allows_multiple_answers": False}


async def started(api: FakeBotApi, emit: RecordingEmit, **extra: object) -> TelegramChannel:
    channel = TelegramChannel(telegram_settings(api, **extra), emit)
    channel.retry_delay = 0.05
    await channel.start()
    return channel


async def test_polling_text_contact_location_deep_link_edits_and_unknown_kinds(bot_api, caplog):
    emit = RecordingEmit()
    channel = await started(bot_api, emit)
    caplog.set_level(logging.INFO, "channels.telegram")
    try:
        bot_api.push({"message": message(42, "/start utm_source-ads__utm_campaign-winter", 1)})
        bot_api.push({"message": message(42, "Нужна доставка", 2)})
        bot_api.push({"message": message(42, None, 3, contact={"phone_number": "89123456789", "first_name": "Ирина",
                                                               "user_id": 42})})
        bot_api.push({"message": message(42, None, 4, location={"latitude": 55.75, "longitude": 37.61})})
        bot_api.push({"edited_message": message(42, "Нужна срочная доставка", 2, edit_date=1_800_000_100)})
        bot_api.push({"poll": POLL})
        bot_api.push({"chat_member": CHAT_MEMBER})
        bot_api.push({"message": "garbage"})
        last = bot_api.push({"message": message(42, "после мусора", 5)})
        await until(lambda: len(emit.contacts) == 6 and bot_api.offsets[-1] == last + 1)
    finally:
        await channel.stop()
    start, text, shared, place, edit, after = emit.contacts
    assert after.text == "после мусора"
    assert start.attributes["deep_link"] == "utm_source-ads__utm_campaign-winter"
    assert start.attributes["utm_source"] == "ads" and start.attributes["utm_campaign"] == "winter"
    assert (text.channel, text.event_id, text.source_id, text.thread_ref, text.name, text.text) == (
        "telegram", "tg:42:2", "42", "42", "Ирина К.", "Нужна доставка")
    claims = {(c.kind, c.value, c.confidence) for c in shared.identities}
    assert {("phone", "+79123456789", Confidence.VERIFIED), ("telegram", "42", Confidence.VERIFIED)} <= claims
    assert (place.attributes["latitude"], place.attributes["longitude"]) == ("55.75", "37.61")
    assert "55.75" in place.text
    assert edit.event_id == "tg:edit:42:2:1800000100" and edit.text == "Нужна срочная доставка"
    assert "unhandled kind" in caplog.text                       # poll and chat_member: logged, acknowledged


async def test_the_offset_moves_only_after_commit(bot_api):
    emit = RecordingEmit()
    emit.gate = asyncio.Event()
    channel = await started(bot_api, emit)
    try:
        update_id = bot_api.push({"message": message(7, "hello", 1)})
        await until(lambda: len(emit.calls) == 1)
        await asyncio.sleep(0.3)                                 # emit has not returned: nothing confirmed
        assert max(bot_api.offsets) <= update_id and emit.contacts == []
        emit.gate.set()
        await until(lambda: bot_api.offsets[-1] == update_id + 1)
        assert emit.events() == ["tg:7:1"]
    finally:
        await channel.stop()


async def test_a_store_outage_keeps_the_update_and_it_comes_again(bot_api):
    emit = RecordingEmit()
    emit.down = True
    channel = await started(bot_api, emit)
    try:
        update_id = bot_api.push({"message": message(7, "hello", 1)})
        # Asked for again and again: the offset never passes the uncommitted update.
        await until(lambda: sum(o <= update_id for o in bot_api.offsets[1:]) >= 3)
        assert emit.contacts == [] and max(bot_api.offsets) <= update_id
        assert len(emit.calls) >= 2 and {c.event_id for c in emit.calls} == {"tg:7:1"}   # replayed, same id
        emit.down = False
        await until(lambda: len(emit.contacts) == 1 and bot_api.offsets[-1] == update_id + 1)
    finally:
        await channel.stop()


async def test_one_chat_failing_holds_the_offset_other_chats_go_on_order_is_kept(bot_api):
    emit = RecordingEmit()
    emit.down_for = {"1"}
    channel = await started(bot_api, emit)
    try:
        first = bot_api.push({"message": message(1, "a1", 1)})
        bot_api.push({"message": message(2, "b1", 1)})
        bot_api.push({"message": message(1, "a2", 2)})
        last = bot_api.push({"message": message(2, "b2", 2)})
        await until(lambda: {"tg:2:1", "tg:2:2"} <= set(emit.events()))
        await until(lambda: len(bot_api.offsets) >= 4)
        assert max(bot_api.offsets) <= first
        assert "tg:1:2" not in {c.event_id for c in emit.calls}   # a2 waits for a1: a chat stays in order
        emit.down_for = set()
        await until(lambda: bot_api.offsets[-1] == last + 1)
    finally:
        await channel.stop()
    events = emit.events()
    assert events.index("tg:1:1") < events.index("tg:1:2")
    assert set(events) == {"tg:1:1", "tg:1:2", "tg:2:1", "tg:2:2"}      # chat 2 came again: same event ids


async def test_a_poison_update_is_skipped_after_retries(bot_api, caplog):
    emit = RecordingEmit()
    emit.refuse = {"tg:3:1"}
    channel = await started(bot_api, emit)
    try:
        bot_api.push({"message": message(3, "poison", 1)})
        last = bot_api.push({"message": message(3, "fine", 2)})
        await until(lambda: bool(bot_api.offsets) and bot_api.offsets[-1] == last + 1)
    finally:
        await channel.stop()
    assert emit.events() == ["tg:3:2"]
    assert [c.event_id for c in emit.calls].count("tg:3:1") == 5 and "failed 5 times, skipped" in caplog.text


async def test_files_are_fetched_unless_too_big(bot_api):
    bot_api.files["small"] = b"%PDF tiny"
    bot_api.files["photo-big"] = b"\xff\xd8" + b"x" * 3000
    bot_api.files["photo-small"] = b"\xff\xd8tiny"
    bot_api.files["undeclared"] = b"x" * 2000
    bot_api.file_sizes["undeclared"] = 2000
    emit = RecordingEmit()
    channel = await started(bot_api, emit)
    try:
        bot_api.push({"message": message(9, None, 1, caption="счёт", document={
            "file_id": "small", "file_unique_id": "s", "file_name": "../../etc/invoice.pdf",
            "mime_type": "application/pdf", "file_size": 9})})
        bot_api.push({"message": message(9, None, 2, voice={"file_id": "huge", "file_unique_id": "h", "duration": 3,
                                                            "file_size": 5_000_000})})
        bot_api.push({"message": message(9, None, 3, photo=[
            {"file_id": "photo-small", "file_unique_id": "p1", "width": 90, "height": 90, "file_size": 6},
            {"file_id": "photo-big", "file_unique_id": "p2", "width": 900, "height": 900}])})
        bot_api.push({"message": message(9, None, 4, document={"file_id": "undeclared", "file_unique_id": "u"})})
        bot_api.push({"message": message(9, None, 5, document={"file_id": "vanished", "file_unique_id": "v",
                                                               "file_size": 10})})
        await until(lambda: len(emit.contacts) == 5)
    finally:
        await channel.stop()
    pdf, voice, photo, undeclared, vanished = (c.attachments[0] for c in emit.contacts)
    assert (pdf.filename, pdf.content_type, pdf.content, emit.contacts[0].text) == (
        "invoice.pdf", "application/pdf", b"%PDF tiny", "счёт")
    assert (voice.size, voice.content) == (5_000_000, b"")          # declared too big: never asked for
    assert (photo.filename, photo.size, photo.content) == ("photo-3.jpg", 3002, b"")  # largest size, too big
    assert (undeclared.size, undeclared.content) == (2000, b"")     # too big by getFile: not downloaded
    assert (vanished.size, vanished.content) == (10, b"")           # getFile failed: listed, contact kept
    assert bot_api.downloads == ["small"]                           # nothing over the limit was fetched


async def test_a_refused_token_fails_the_start_an_unreachable_api_does_not():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    api = FakeBotApi()
    api.port = port
    emit = RecordingEmit()
    channel = await started(api, emit)                    # nothing listens yet: starts anyway
    runner = web.AppRunner(api.app())
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        api.push({"message": message(11, "наконец-то", 1)})
        await until(lambda: emit.events() == ["tg:11:1"])
        wrong = TelegramChannel(telegram_settings(api, token="999:wrong"), RecordingEmit())
        with pytest.raises(InvalidToken):
            await wrong.start()
        await wrong.stop()
    finally:
        await channel.stop()
        await api.close()
        await runner.cleanup()
