"""Replies through the real PTB Bot to the simulated Bot API: sent, split, refused, unreachable."""
from __future__ import annotations

from channels.telegram.adapter import make_bot
from channels.telegram.responder import TelegramResponder, split_text
from simulators.telegram_api import FakeBotApi
from channels.types import OutboundMessage
from telegram_fakes import telegram_settings


def reply(text: str, chat: str = "42", thread: str | None = "42") -> OutboundMessage:
    return OutboundMessage("telegram", 1, "m1", chat, text, thread_ref=thread)


async def test_replies_go_to_the_chat_and_a_blocked_bot_is_a_visible_failure(bot_api: FakeBotApi):
    async with make_bot(telegram_settings(bot_api)) as bot:
        responder = TelegramResponder(bot)
        sent = await responder.send(reply("Здравствуйте!"))
        assert sent.ok and sent.provider_id == "1001"
        assert bot_api.sent == [{"chat_id": "42", "text": "Здравствуйте!"}]
        assert (await responder.send(reply("to", chat="77", thread=None))).ok      # no thread: `to`
        assert bot_api.sent[-1]["chat_id"] == "77"
        bot_api.blocked.add("43")
        failed = await responder.send(reply("Алло?", thread="43"))
        assert (failed.ok, failed.error, failed.retryable) == (False, "bot was blocked by the user", False)
        empty = await responder.send(reply("  "))
        assert not empty.ok and "empty" in (empty.error or "")


async def test_long_texts_go_in_parts(bot_api: FakeBotApi):
    text = ("строка " * 100 + "\n") * 12                         # ~8.4k characters
    async with make_bot(telegram_settings(bot_api)) as bot:
        sent = await TelegramResponder(bot).send(reply(text))
    assert sent.ok and len(bot_api.sent) == 3
    assert all(len(m["text"]) <= 4096 for m in bot_api.sent)
    assert "".join(m["text"] for m in bot_api.sent).replace("\n", "") == text.replace("\n", "")


async def test_an_unreachable_api_or_a_closed_bot_is_a_failed_delivery_not_an_exception(bot_api: FakeBotApi):
    settings = telegram_settings(bot_api)
    bot = make_bot(settings)
    await bot.initialize()
    await bot.shutdown()
    closed = await TelegramResponder(bot).send(reply("hi"))
    assert not closed.ok and closed.error
    gone = make_bot(telegram_settings(bot_api, base_url="http://127.0.0.1:9/bot"))
    unreachable = await TelegramResponder(gone).send(reply("hi"))
    assert (unreachable.ok, unreachable.retryable) == (False, True) and "unreachable" in (unreachable.error or "")


def test_split_text_keeps_short_texts_whole_and_cuts_at_lines():
    assert split_text("hi") == ["hi"]
    parts = split_text("a" * 3000 + "\n" + "b" * 3000)
    assert parts == ["a" * 3000, "b" * 3000]
    assert [len(p) for p in split_text("c" * 9000)] == [4096, 4096, 808]
