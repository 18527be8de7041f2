"""A Telegram update in, an InboundContact (plus the files to fetch) out: pure."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from telegram import Message, Update

from channels.identity import InvalidIdentity, mentioned_identities, normalize_phone
from channels.types import Confidence, IdentityClaim, InboundContact

_UTM = re.compile(r"^(utm_[a-z]+)-([\w.\-]+)$")


@dataclass(frozen=True, slots=True)
class FileRef:
    """A file the message carries, to be fetched with getFile if it is small enough."""

    file_id: str
    filename: str
    content_type: str
    size: int | None


@dataclass(frozen=True, slots=True)
class Parsed:
    contact: InboundContact
    files: tuple[FileRef, ...]


def parse_update(update: Update, *, region: str | None) -> Parsed | None:
    """The contact an update brings; None for update kinds that are not a client writing to us."""
    edited = update.edited_message is not None
    message = update.message or update.edited_message
    if message is None or message.from_user is None or message.from_user.is_bot:
        return None
    user, chat = message.from_user, message.chat
    text = message.text or message.caption or ""
    attributes: dict[str, str] = {"telegram_chat": str(chat.id), "telegram_message": str(message.message_id)}
    identities = [IdentityClaim("telegram", str(user.id), Confidence.VERIFIED)]
    if text.startswith("/start"):
        payload = text[len("/start"):].strip()
        text = ""
        if payload:
            attributes["deep_link"] = payload[:200]
            # Deep links carry UTM tags as "utm_source-ads__utm_campaign-winter" (1-64 chars, [A-Za-z0-9_-]).
            for part in payload.split("__"):
                match = _UTM.match(part)
                if match:
                    attributes[match.group(1)] = match.group(2)
    if message.contact is not None and message.contact.phone_number:
        own = message.contact.user_id == user.id
        try:
            phone = normalize_phone(message.contact.phone_number, region)
            # A phone shared from the client's own account proves it; someone else's is only named.
            identities.append(IdentityClaim("phone", phone, Confidence.VERIFIED if own else Confidence.MENTIONED))
            text = text or f"{message.contact.first_name or ''} {phone}".strip()
        except InvalidIdentity:
            pass
    if message.location is not None:
        attributes["latitude"] = str(message.location.latitude)
        attributes["longitude"] = str(message.location.longitude)
        text = text or f"📍 {message.location.latitude}, {message.location.longitude}"
    identities += [c for c in mentioned_identities(text, region) if c.kind != "telegram"]
    if edited:
        attributes["edited"] = "true"
        stamp = int(message.edit_date.timestamp()) if message.edit_date else 0
        event_id = f"tg:edit:{chat.id}:{message.message_id}:{stamp}"
    else:
        event_id = f"tg:{chat.id}:{message.message_id}"
    name = " ".join(p for p in (user.first_name, user.last_name) if p) or user.username
    contact = InboundContact(
        channel="telegram", event_id=event_id, source_id=str(chat.id), thread_ref=str(chat.id),
        received_at=message.date or datetime.now(UTC), name=name, text=text, attributes=attributes,
        identities=tuple(identities),
    )
    return Parsed(contact, tuple(_files(message)))


def _files(message: Message) -> list[FileRef]:
    files = []
    if message.photo:
        largest = message.photo[-1]
        files.append(FileRef(largest.file_id, f"photo-{message.message_id}.jpg", "image/jpeg", largest.file_size))
    if message.document is not None:
        d = message.document
        files.append(FileRef(d.file_id, d.file_name or f"document-{message.message_id}",
                             d.mime_type or "application/octet-stream", d.file_size))
    if message.voice is not None:
        v = message.voice
        files.append(FileRef(v.file_id, f"voice-{message.message_id}.ogg", v.mime_type or "audio/ogg", v.file_size))
    return files
