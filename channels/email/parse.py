"""Raw RFC 5322 bytes in, an InboundContact out: pure, and forgiving of the mail real servers deliver."""
from __future__ import annotations

import hashlib
import logging
import re
from datetime import UTC, datetime
from email.message import EmailMessage

from channels.email.charsets import decode_bytes, without_controls
from channels.email.header_policy import POLICY
from channels.email.mail_headers import MailHeaders, valid_address
from channels.email.mime_parser import parse_bytes
from channels.email.parts import attachments, body_text, readable_body
from channels.email.quoting import strip_quoted
from channels.identity import mentioned_identities
from channels.types import Confidence, IdentityClaim, InboundContact

log = logging.getLogger(__name__)

TOKEN = re.compile(r"\[#(\d{1,12})\]")
REPLY_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|tr|ответ|отв|пересл|по)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
MESSAGE_ID = re.compile(r"<[^<>\s]+>")
MAX_ID = 250              # the store keeps event ids and thread refs in 300 characters
MAX_QUOTED = 20_000
AUTOMATIC_SENDERS = ("mailer-daemon", "postmaster")
NO_REPLY = re.compile(r"^(no-?reply|do-?not-?reply|notifications?)[+@.\-_]", re.IGNORECASE)


class Automatic(Exception):
    """Mail a machine sent (auto-reply, bounce, list): acknowledged, never a lead, never answered."""


def parse_message(raw: bytes, *, region: str | None, max_attachment_bytes: int = 10 * 1024 * 1024,
                  recipient: str | None = None, received_at: datetime | None = None,
                  envelope_sender: str | None = None) -> InboundContact:
    """Read `raw`; raise `Automatic` for machine mail. Malformed mail degrades, it never raises otherwise.

    `envelope_sender` is SMTP's MAIL FROM when known: "" (the null sender) marks a bounce.
    """
    try:
        message = parse_bytes(raw, POLICY)
        headers = MailHeaders(message)
        reason = automatic_reason(message, envelope_sender, headers)
    except Exception:   # the parser itself gave up: keep the bytes as text rather than lose the mail
        log.exception("unparseable message kept as raw text")
        return fallback_contact(raw, region=region, recipient=recipient, received_at=received_at,
                                envelope_sender=envelope_sender)
    if reason:
        raise Automatic(reason)
    try:
        return _contact(message, headers, raw, region, max_attachment_bytes, recipient, received_at,
                        envelope_sender)
    except Exception:
        log.exception("message partly unreadable, kept as raw text")
        return fallback_contact(raw, region=region, recipient=recipient, received_at=received_at,
                                envelope_sender=envelope_sender, message=message)


def _contact(message: EmailMessage, headers: MailHeaders, raw: bytes, region: str | None, max_attachment_bytes: int,
             recipient: str | None, received_at: datetime | None, envelope_sender: str | None) -> InboundContact:
    name, sender = headers.first_address("from")
    reply_name, reply_to = headers.first_address("reply-to")
    if sender and reply_to and NO_REPLY.match(sender):
        # Site builders and CRMs send form mail from no-reply@ with the client in Reply-To.
        name, sender = reply_name or name, reply_to
    if sender is None:
        sender = valid_address(envelope_sender) or headers.first_address("return-path")[1]
    subject = headers.text("subject")
    own_id = _own_id(headers, raw)
    references = _ids(headers.text("references"))
    in_reply_to = _ids(headers.text("in-reply-to"))
    body, decoded = readable_body(message)
    full_text = body_text(message, body, decoded)
    text = strip_quoted(full_text)
    token = TOKEN.search(subject)
    identities = [IdentityClaim("email", sender, Confidence.VERIFIED)] if sender else []
    identities += [c for c in mentioned_identities(text, region) if (c.kind, c.value) != ("email", sender)]
    files = attachments(message, body, max_attachment_bytes)
    attributes = {"message_id": own_id,
                  "references": " ".join(references + [i for i in in_reply_to if i not in references])}
    if in_reply_to:
        attributes["in_reply_to"] = in_reply_to[0]
    if recipient:
        attributes["mailbox"] = recipient
    to = ", ".join(headers.addresses("to"))
    if to:
        attributes["to"] = to[:500]
    if date := headers.text("date"):
        attributes["date"] = date[:100]
    if full_text != text:
        attributes["quoted"] = full_text[len(text):].strip()[:MAX_QUOTED]
    if files.dropped:
        attributes["attachments_dropped"] = "; ".join(files.dropped)[:1000]
    return InboundContact(
        channel="email", event_id=own_id, source_id=sender or "",
        received_at=received_at or datetime.now(UTC),
        name=name or None, email=sender, text=text, subject=clean_subject(subject) or None,
        thread_ref=(references or in_reply_to or [own_id])[0], attributes=attributes,
        identities=tuple(identities), lead_hint=int(token.group(1)) if token else None,
        attachments=tuple(files.files),
    )


def fallback_contact(raw: bytes, *, region: str | None, recipient: str | None = None,
                     received_at: datetime | None = None, envelope_sender: str | None = None,
                     message: EmailMessage | None = None) -> InboundContact:
    """What can be said of a message nothing else could read: its sender, and its bytes as text."""
    sender = valid_address(envelope_sender)
    own_id = _hashed_id(raw)
    if message is not None:
        try:
            headers = MailHeaders(message)
            sender = headers.first_address("from")[1] or sender
            own_id = _own_id(headers, raw)
        except Exception:   # as broken as the rest: the hash and the envelope will do
            pass
    text = without_controls(decode_bytes(raw[:200_000]).replace("\r\n", "\n"))
    attributes = {"message_id": own_id, "unparsed": "true"}
    if recipient:
        attributes["mailbox"] = recipient
    return InboundContact(
        channel="email", event_id=own_id, source_id=sender or "", received_at=received_at or datetime.now(UTC),
        email=sender, text=text, thread_ref=own_id, attributes=attributes,
        identities=(IdentityClaim("email", sender, Confidence.VERIFIED),) if sender else (),
    )


def automatic_reason(message: EmailMessage, envelope_sender: str | None = None,
                     headers: MailHeaders | None = None) -> str | None:
    """Why this mail was sent by a machine, or None for a person's mail."""
    headers = headers if headers is not None else MailHeaders(message)
    if envelope_sender == "" or headers.text("return-path").strip() == "<>":
        return "null sender (bounce)"
    auto = headers.text("auto-submitted").lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    precedence = headers.text("precedence").lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {precedence}"
    for name in ("x-autoreply", "x-autorespond", "x-autogenerated", "list-id", "list-unsubscribe"):
        if name in headers and headers.text(name):
            return f"{name} present"
    if message.get_content_type() in ("multipart/report", "message/delivery-status"):
        return "delivery or read report"
    _, sender = headers.first_address("from")
    _, reply_to = headers.first_address("reply-to")
    local = (sender or valid_address(envelope_sender) or "").split("@")[0]
    if local.startswith(AUTOMATIC_SENDERS):
        return f"sender {sender or envelope_sender}"
    if sender and NO_REPLY.match(sender) and not reply_to:
        return f"sender {sender} takes no answers"
    return None


is_automatic = automatic_reason


def clean_subject(subject: str) -> str:
    """The subject without reply/forward prefixes and ticket tokens."""
    return " ".join(REPLY_PREFIX.sub("", TOKEN.sub(" ", subject)).split())


def _own_id(headers: MailHeaders, raw: bytes) -> str:
    """The Message-ID, or a stable one made from the bytes when the sender gave none."""
    found = _ids(headers.text("message-id"))
    return found[0] if found else _hashed_id(raw)


def _hashed_id(raw: bytes) -> str:
    return f"<{hashlib.sha256(raw).hexdigest()[:32]}@switchboard.invalid>"


def _ids(value: str) -> list[str]:
    # Ids longer than the store keeps are replaced by their hash, the same way everywhere.
    return [i if len(i) <= MAX_ID else _hashed_id(i.encode()) for i in MESSAGE_ID.findall(value)]
