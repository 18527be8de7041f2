"""WhatsApp Cloud API webhook payloads in, InboundContacts (and the media to fetch) out: pure."""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from channels.identity import InvalidIdentity, mentioned_identities, normalize_phone
from channels.types import Confidence, IdentityClaim, InboundContact

MEDIA_KINDS = ("image", "document", "audio", "voice", "video", "sticker")
_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "audio/ogg": ".ogg",
               "audio/mpeg": ".mp3", "video/mp4": ".mp4", "application/pdf": ".pdf"}


@dataclass(frozen=True, slots=True)
class MediaRef:
    """A media object a message names; its URL comes from `GET {base_url}/{media_id}`."""

    media_id: str
    filename: str
    content_type: str


@dataclass(frozen=True, slots=True)
class Parsed:
    contact: InboundContact
    media: MediaRef | None


def messages_of(payload: Mapping[str, Any]) -> Iterator[tuple[Mapping[str, Any], Mapping[str, str]]]:
    """Every inbound message of a webhook delivery with the profile names sent beside it; statuses are skipped."""
    for entry in payload.get("entry") or []:
        for change in entry.get("changes") or []:
            value = change.get("value") or {}
            names = {str(c.get("wa_id")): str((c.get("profile") or {}).get("name") or "")
                     for c in value.get("contacts") or [] if isinstance(c, dict)}
            for message in value.get("messages") or []:     # `statuses` (receipts) need nothing
                yield message, names


def parse_message(message: Mapping[str, Any], names: Mapping[str, str], region: str | None) -> Parsed:
    """One entry of `value.messages`; KeyError/TypeError/ValueError if it is not shaped like one."""
    wa_id = str(message["from"])
    message_id = str(message["id"])
    identities = [IdentityClaim("whatsapp", wa_id, Confidence.VERIFIED)]
    try:
        # A WhatsApp id is the client's phone number: it proves the phone identity too.
        identities.append(IdentityClaim("phone", normalize_phone("+" + wa_id, region), Confidence.VERIFIED))
    except InvalidIdentity:
        pass
    kind = str(message.get("type") or "unknown")
    body = message.get(kind) if isinstance(message.get(kind), dict) else {}
    attributes = {"whatsapp_type": kind}
    text, media = _content(kind, body, message_id, attributes)
    if kind == "contacts":
        for card in message.get("contacts") or []:
            for phone in card.get("phones") or []:
                try:   # someone's card, maybe not the sender's own: named, never merged on
                    number = normalize_phone(str(phone.get("phone") or ""), region)
                except InvalidIdentity:
                    continue
                identities.append(IdentityClaim("phone", number, Confidence.MENTIONED))
                text += f"{(card.get('name') or {}).get('formatted_name', '')} {number}\n"
        text = text.strip()
    claimed = {(c.kind, c.value) for c in identities}
    identities += [c for c in mentioned_identities(text, region) if (c.kind, c.value) not in claimed]
    stamp = str(message.get("timestamp") or "")
    return Parsed(InboundContact(
        channel="whatsapp", event_id=f"wa:{message_id}", source_id=wa_id, thread_ref=wa_id,
        received_at=_sent_at(stamp),
        name=names.get(wa_id) or None, text=text, attributes=attributes, identities=tuple(identities),
    ), media)


def _sent_at(stamp: str) -> datetime:
    """Meta's Unix seconds; anything else (not ASCII digits, past year 9999) is taken as now."""
    if stamp.isascii() and stamp.isdigit() and len(stamp) <= 11:
        return datetime.fromtimestamp(int(stamp), UTC)
    return datetime.now(UTC)


def _content(kind: str, body: Mapping[str, Any], message_id: str,
             attributes: dict[str, str]) -> tuple[str, MediaRef | None]:
    """The readable text of a message of `kind`, and the media it carries."""
    if kind == "text":
        return str(body.get("body") or ""), None
    if kind in MEDIA_KINDS and body.get("id"):
        content_type = str(body.get("mime_type") or "application/octet-stream").split(";")[0].strip()
        default = f"{kind}-{message_id[-12:]}{_EXTENSIONS.get(content_type, '')}"
        name = safe_filename(str(body.get("filename") or default))
        return str(body.get("caption") or ""), MediaRef(str(body["id"]), name, content_type)
    if kind == "location":
        attributes.update(latitude=str(body.get("latitude")), longitude=str(body.get("longitude")))
        label = " ".join(str(body[k]) for k in ("name", "address") if body.get(k))
        return (label + "\n" if label else "") + f"📍 {body.get('latitude')}, {body.get('longitude')}", None
    if kind == "interactive":     # the client pressed one of our reply buttons or list rows
        reply = body.get("button_reply") or body.get("list_reply") or {}
        attributes["reply_id"] = str(reply.get("id") or "")
        return str(reply.get("title") or ""), None
    if kind == "button":          # a quick-reply button of a template
        attributes["reply_id"] = str(body.get("payload") or "")
        return str(body.get("text") or ""), None
    if kind == "reaction":
        attributes["reaction_to"] = str(body.get("message_id") or "")
        return str(body.get("emoji") or ""), None
    return "", None


def safe_filename(name: str) -> str:
    """A client-chosen file name without directories or control characters."""
    name = name.replace("\\", "/").split("/")[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip().lstrip(".")
    return name[:150] or "attachment"
