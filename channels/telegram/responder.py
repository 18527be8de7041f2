"""Replies from the console to a Telegram chat; every failure becomes a visible `Delivery`, never an exception."""
from __future__ import annotations

import logging

from telegram import Bot
from telegram.constants import MessageLimit
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError

from channels.types import Delivery, OutboundMessage
from vocabulary.channels import TELEGRAM

log = logging.getLogger(__name__)


class TelegramResponder:
    """`send(OutboundMessage)` through the bot's `sendMessage`; long texts go as several messages."""

    channel = TELEGRAM

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def send(self, message: OutboundMessage) -> Delivery:
        """Deliver `message.text` to the chat in `thread_ref` (or `to`); the first message id is the provider id."""
        chat_id = message.thread_ref or message.to
        if not chat_id:
            return Delivery(ok=False, error="no Telegram chat to answer")
        if not message.text.strip():
            return Delivery(ok=False, error="an empty message cannot be sent to Telegram")
        ids: list[str] = []
        try:
            for part in split_text(message.text):
                sent = await self._bot.send_message(chat_id=chat_id, text=part)
                ids.append(str(sent.message_id))
        except Forbidden as exc:                         # blocked, kicked, deactivated user
            return self._failed(ids, _reason(exc, "the client blocked the bot"))
        except ChatMigrated as exc:
            return self._failed(ids, f"the group moved to chat {exc.new_chat_id}")
        except BadRequest as exc:                        # chat not found, text refused
            return self._failed(ids, _reason(exc, "Telegram refused the message"))
        except RetryAfter as exc:                        # flood control: the sender may try again
            return self._failed(ids, f"Telegram flood control: retry in {exc.retry_after}", retryable=True)
        except NetworkError as exc:                      # includes TimedOut
            return self._failed(ids, f"Telegram unreachable: {exc}", retryable=True)
        except TelegramError as exc:                     # InvalidToken, Conflict, EndPointNotFound, ...
            return self._failed(ids, _reason(exc, "Telegram refused the message"))
        except Exception as exc:                         # e.g. the bot already shut down
            log.exception("telegram: reply to chat %s failed", chat_id)
            return self._failed(ids, f"Telegram reply failed: {exc}", retryable=True)
        return Delivery(ok=True, provider_id=ids[0])

    @staticmethod
    def _failed(ids: list[str], error: str, *, retryable: bool = False) -> Delivery:
        if ids:   # part of a long text went out: say so, and do not invite a retry that repeats it
            return Delivery(ok=False, provider_id=ids[0], error=f"only {len(ids)} part(s) sent: {error}")
        return Delivery(ok=False, error=error, retryable=retryable)


def split_text(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """`text` in pieces Telegram accepts (4096 characters), cut at line ends or spaces where possible."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        if cut < limit // 2:
            cut = rest.rfind(" ", 0, limit)
        if cut < limit // 2:
            cut = limit
        parts.append(rest[:cut])
        rest = rest[cut:].lstrip("\n ") if cut < limit else rest[cut:]
    parts.append(rest)
    return [p for p in parts if p]


def _reason(exc: TelegramError, fallback: str) -> str:
    """Telegram's own words ("bot was blocked by the user"), without its status-code prefix."""
    text = str(exc.message or "").strip()
    for prefix in ("Forbidden: ", "Unauthorized: ", "Conflict: "):
        text = text.removeprefix(prefix)
    return text[0].lower() + text[1:] if text else fallback
