"""Values every channel produces: the normalized inbound contact and its identity claims."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol


class Confidence(StrEnum):
    """How sure we are that an identity belongs to the person who contacted us."""

    VERIFIED = "verified"    # proven by the channel itself: caller id, mail sender, Telegram user id
    STATED = "stated"        # typed by the client as their own: a form's phone or e-mail field
    MENTIONED = "mentioned"  # merely found in free text: may belong to someone else

    @property
    def strong(self) -> bool:
        return self is not Confidence.MENTIONED


@dataclass(frozen=True, slots=True)
class IdentityClaim:
    """One `(kind, value)` the contact is known by, already normalized (E.164, lower-cased e-mail)."""

    kind: str          # "phone" | "email" | "telegram" | "whatsapp" | "viber" | ...
    value: str
    confidence: Confidence = Confidence.STATED


_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class InboundContact:
    """One inbound event on any channel, normalized; `(channel, event_id)` is its idempotency key."""

    channel: str
    event_id: str
    source_id: str
    received_at: datetime
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    text: str = ""
    subject: str | None = None
    thread_ref: str | None = None
    attributes: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    priority_hint: int | None = None
    identities: tuple[IdentityClaim, ...] = ()
    lead_hint: int | None = None          # a lead the message names itself, e.g. "[#123]" in a subject
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class Accepted:
    """What the pipeline answers once a contact is committed; adapters may acknowledge after this."""

    lead_id: int
    contact_id: int
    interaction_id: int
    duplicate: bool = False     # the same (channel, event_id) was already stored: nothing new written


class IntakeUnavailable(RuntimeError):
    """The store could not commit the contact; the sender must retry later (HTTP 503, SMTP 451)."""


class IntakeRefused(ValueError):
    """The store refused this one contact for good; retrying it would not help (HTTP 422, SMTP 554)."""


Emit = Callable[[InboundContact], Awaitable[Accepted]]
"""What an adapter hands each contact to; it returns once the contact is committed."""


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file that came with (or goes out with) a message; `content` is kept only until stored."""

    filename: str              # sanitized: no path, no control characters
    content_type: str
    size: int
    content: bytes = b""
    ref: str | None = None     # where it is stored once written (relative path or provider file id)


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A reply from the console, to go back through the channel the lead came from."""

    channel: str
    lead_id: int
    message_id: str                 # ours, unique; e-mail uses it as the Message-ID's local part
    to: str                         # e-mail address, chat id, phone number
    text: str
    subject: str | None = None
    thread_ref: str | None = None   # the conversation: e-mail thread root Message-ID, chat id
    in_reply_to: str | None = None  # e-mail: the Message-ID being answered
    references: tuple[str, ...] = ()
    attributes: Mapping[str, str] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class Delivery:
    """What became of an outbound message; a failure is shown to the manager, never swallowed."""

    ok: bool
    provider_id: str | None = None   # e.g. Telegram message_id, the sent Message-ID
    error: str | None = None         # human-readable: "bot was blocked by the user", "550 mailbox unavailable"
    retryable: bool = False


class Responder(Protocol):
    """Sends replies on one channel; gateway picks the responder by the lead's channel."""

    channel: str

    async def send(self, message: OutboundMessage) -> Delivery: ...
