"""Values every channel produces: the normalized inbound contact and its identity claims."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType


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


@dataclass(frozen=True, slots=True)
class Accepted:
    """What the pipeline answers once a contact is committed; adapters may acknowledge after this."""

    lead_id: int
    contact_id: int
    interaction_id: int
    duplicate: bool = False     # the same (channel, event_id) was already stored: nothing new written


class IntakeUnavailable(RuntimeError):
    """The store could not commit the contact; the sender must retry later (HTTP 503, SMTP 451)."""


Emit = Callable[[InboundContact], Awaitable[Accepted]]
"""What an adapter hands each contact to; it returns once the contact is committed."""
