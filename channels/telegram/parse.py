"""A Telegram update in, an InboundContact (plus the files to fetch) out: pure."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from telegram import Message, Update

from channels.identity import InvalidIdentity, mentioned_identities, normalize_phone
from channels.types import Confidence, IdentityClaim, InboundContact

_UTM = re.compile(r"^(utm_[a-z]+)-([\w.\-]+)$")
_START = re.compile(r"^/start(?:@\w+)?(?:\s+(.*))?$", re.DOTALL)


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
    start = _START.match(text)
    if start:
        payload = (start.group(1) or "").strip()
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
    claimed = {(c.kind, c.value) for c in identities}
    identities += [c for c in mentioned_identities(text, region) if (c.kind, c.value) not in claimed]
    received_at = message.date
    if edited:
        # Each edit is its own interaction: the edit date tells two edits of one message apart.
        attributes["edited"] = "true"
        received_at = message.edit_date or received_at
        stamp = int(message.edit_date.timestamp()) if message.edit_date else 0
        event_id = f"tg:edit:{chat.id}:{message.message_id}:{stamp}"
    else:
        # Message-based, not update-based: the same message seen by polling and by a webhook
        # (after a mode switch) is still one interaction.
        event_id = f"tg:{chat.id}:{message.message_id}"
    name = " ".join(p for p in (user.first_name, user.last_name) if p) or user.username
    contact = InboundContact(
        channel="telegram", event_id=event_id, source_id=str(chat.id), thread_ref=str(chat.id),
        received_at=received_at or datetime.now(UTC), name=name, text=text, attributes=attributes,
        identities=tuple(identities),
    )
    return Parsed(contact, tuple(_files(message)))


def _files(message: Message) -> list[FileRef]:
    files: list[FileRef] = []
    if message.photo:
        largest = message.photo[-1]
        files.append(FileRef(largest.file_id, f"photo-{message.message_id}.jpg", "image/jpeg", largest.file_size))
    if message.document is not None:
        d = message.document
        files.append(FileRef(d.file_id, safe_filename(d.file_name or f"document-{message.message_id}"),
                             d.mime_type or "application/octet-stream", d.file_size))
    if message.voice is not None:
        v = message.voice
        files.append(FileRef(v.file_id, f"voice-{message.message_id}.ogg", v.mime_type or "audio/ogg", v.file_size))
    if message.audio is not None:
        a = message.audio
        files.append(FileRef(a.file_id, safe_filename(a.file_name or f"audio-{message.message_id}.mp3"),
                             a.mime_type or "audio/mpeg", a.file_size))
    if message.video is not None:
        w = message.video
        files.append(FileRef(w.file_id, safe_filename(w.file_name or f"video-{message.message_id}.mp4"),
                             w.mime_type or "video/mp4", w.file_size))
    if message.video_note is not None:
        n = message.video_note
        files.append(FileRef(n.file_id, f"video-note-{message.message_id}.mp4", "video/mp4", n.file_size))
    return files


def safe_filename(name: str) -> str:
    """A client-chosen file name without directories or control characters."""
    name = name.replace("\\", "/").split("/")[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip().lstrip(".")
    return name[:150] or "attachment"
