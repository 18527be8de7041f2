"""A Viber REST bot "message" callback in, an InboundContact (and the media to fetch) out: pure."""
from __future__ import annotations

import mimetypes
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from channels.identity import InvalidIdentity, mentioned_identities, normalize_phone
from channels.types import Confidence, IdentityClaim, InboundContact

MEDIA_KINDS = {"picture": "image/jpeg", "video": "video/mp4", "file": "application/octet-stream"}
_UTM = re.compile(r"^(utm_[a-z]+)-([\w.\-]+)$")


@dataclass(frozen=True, slots=True)
class MediaRef:
    """A file a message links to (Viber hosts it; the URL is temporary)."""

    url: str
    filename: str
    content_type: str
    size: int | None


@dataclass(frozen=True, slots=True)
class Parsed:
    contact: InboundContact
    media: MediaRef | None


def parse_message(event: Mapping[str, Any], region: str | None) -> Parsed:
    """A `message` event; KeyError/TypeError/ValueError if it is not shaped like one."""
    sender, message = event["sender"], event["message"]
    user_id = str(sender["id"])
    token = str(event["message_token"])
    identities = [IdentityClaim("viber", user_id, Confidence.VERIFIED)]
    kind = str(message.get("type") or "text")
    text = str(message.get("text") or "")
    attributes = {"viber_type": kind}
    if message.get("tracking_data"):
        attributes["tracking_data"] = str(message["tracking_data"])[:200]
    if kind == "contact":
        card = message.get("contact") or {}
        number = str(card.get("phone_number") or "")
        try:
            # A contact card the client sends us: usually their own number, not proven by Viber.
            identities.append(IdentityClaim("phone", normalize_phone(number, region), Confidence.STATED))
        except InvalidIdentity:
            pass
        text = text or f"{card.get('name', '')} {number}".strip()
    media = None
    if kind in MEDIA_KINDS and message.get("media"):
        name = safe_filename(str(message.get("file_name") or f"{kind}-{token}"))
        guessed = mimetypes.guess_type(name)[0] if kind == "file" else None
        size = message.get("size")
        media = MediaRef(str(message["media"]), name, guessed or MEDIA_KINDS[kind],
                         int(size) if isinstance(size, int) else None)
    if kind == "location":
        location = message.get("location") or {}
        attributes.update(latitude=str(location.get("lat")), longitude=str(location.get("lon")))
        text = text or f"📍 {location.get('lat')}, {location.get('lon')}"
    if kind == "url":
        text = text or str(message.get("media") or "")
    if kind == "sticker":
        attributes["sticker_id"] = str(message.get("sticker_id") or "")
    claimed = {(c.kind, c.value) for c in identities}
    identities += [c for c in mentioned_identities(text, region) if (c.kind, c.value) not in claimed]
    stamp = event.get("timestamp")
    return Parsed(InboundContact(
        channel="viber", event_id=f"viber:{token}", source_id=user_id, thread_ref=user_id,
        received_at=datetime.fromtimestamp(stamp / 1000, UTC) if isinstance(stamp, int) else datetime.now(UTC),
        name=str(sender.get("name") or "") or None, text=text, attributes=attributes, identities=tuple(identities),
    ), media)


def source_attributes(context: str) -> dict[str, str]:
    """The lead's source from a deep link's context (`viber://pa?chatURI=shop&context=utm_source-ads`)."""
    attributes = {"deep_link": context[:200]}
    for part in context.split("__"):
        match = _UTM.match(part)
        if match:
            attributes[match.group(1)] = match.group(2)
    return attributes


def safe_filename(name: str) -> str:
    """A client-chosen file name without directories or control characters."""
    name = name.replace("\\", "/").split("/")[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip().lstrip(".")
    return name[:150] or "attachment"
