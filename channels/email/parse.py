"""Raw RFC 5322 bytes in, an InboundContact out: pure, and forgiving of the mail real servers deliver."""
from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses

from channels.email.html_text import html_to_text
from channels.identity import InvalidIdentity, mentioned_identities, normalize_email
from channels.types import Attachment, Confidence, IdentityClaim, InboundContact

TOKEN = re.compile(r"\[#(\d{1,12})\]")
REPLY_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|sv|ответ|отв|пересл)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
MESSAGE_ID = re.compile(r"<[^<>\s]+>")
# Where quoted history starts in a reply: Gmail/Apple ("On … wrote:"), Russian clients
# ("… пишет:"), Outlook ("-----Original Message-----" / "From: …" block), and "> " quoting.
QUOTE_START = re.compile(
    r"^(On .{0,200}wrote:|.{0,200}(пишет|написал\(а\)|написала|написал):|-{2,}\s*(Original Message|Исходное сообщение)"
    r"\s*-{2,}|_{10,}|From: .+|От: .+)\s*$", re.IGNORECASE)
AUTOMATIC_SENDERS = ("mailer-daemon", "postmaster")
NO_REPLY = re.compile(r"^(no-?reply|do-?not-?reply|notifications?)[+@.\-_]", re.IGNORECASE)


class Automatic(Exception):
    """Mail a machine sent (auto-reply, bounce, list): acknowledged, never a lead, never answered."""


def parse_message(raw: bytes, *, region: str | None, max_attachment_bytes: int = 10 * 1024 * 1024,
                  recipient: str | None = None, received_at: datetime | None = None) -> InboundContact:
    """Read `raw`; raise `Automatic` for machine mail. Malformed parts degrade, they never raise."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    reason = automatic_reason(message)
    if reason:
        raise Automatic(reason)
    name, sender = _address(message, "from")
    reply_name, reply_to = _address(message, "reply-to")
    if sender and reply_to and NO_REPLY.match(sender):
        # Site builders and CRMs send form mail from no-reply@ with the client in Reply-To.
        name, sender = reply_name or name, reply_to
    subject = _header(message, "subject")
    message_id = _ids(_header(message, "message-id"))
    references = _ids(_header(message, "references"))
    in_reply_to = _ids(_header(message, "in-reply-to"))
    own_id = message_id[0] if message_id else f"<{hashlib.sha256(raw).hexdigest()[:32]}@switchboard.invalid>"
    full_text = body_text(message)
    text = strip_quoted(full_text)
    token = TOKEN.search(subject)
    identities = [IdentityClaim("email", sender, Confidence.VERIFIED)] if sender else []
    identities += [c for c in mentioned_identities(text, region) if (c.kind, c.value) != ("email", sender)]
    attributes = {"message_id": own_id, "references": " ".join(references + [i for i in in_reply_to
                                                                             if i not in references])}
    if in_reply_to:
        attributes["in_reply_to"] = in_reply_to[0]
    if recipient:
        attributes["mailbox"] = recipient
    if _header(message, "date"):
        attributes["date"] = _header(message, "date")[:100]
    if full_text != text:
        attributes["quoted"] = full_text[len(text):][:20000]
    return InboundContact(
        channel="email", event_id=own_id, source_id=reply_to or sender or "",
        received_at=received_at or datetime.now(UTC),
        name=name or None, email=sender, text=text, subject=clean_subject(subject) or None,
        thread_ref=(references or in_reply_to or [own_id])[0], attributes=attributes,
        identities=tuple(identities), lead_hint=int(token.group(1)) if token else None,
        attachments=tuple(_attachments(message, max_attachment_bytes)),
    )


def automatic_reason(message: EmailMessage) -> str | None:
    """Why this mail was sent by a machine, or None for a person's mail."""
    auto = _header(message, "auto-submitted").lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    precedence = _header(message, "precedence").lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {precedence}"
    for header in ("x-autoreply", "x-autorespond", "list-id", "list-unsubscribe"):
        if _header(message, header):
            return f"{header} present"
    if message.get_content_type() == "multipart/report":
        return "delivery or read report"
    _, sender = _address(message, "from")
    _, reply_to = _address(message, "reply-to")
    local = (sender or "").split("@")[0]
    if not sender or any(local.startswith(prefix) for prefix in AUTOMATIC_SENDERS):
        return f"sender {sender or 'missing'}"
    if NO_REPLY.match(sender) and not reply_to:
        return f"sender {sender} takes no answers"
    return None


def clean_subject(subject: str) -> str:
    return REPLY_PREFIX.sub("", TOKEN.sub("", subject)).strip()


def body_text(message: EmailMessage) -> str:
    """The readable text: text/plain preferred, HTML turned into text, any charset decoded."""
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except (KeyError, LookupError, ValueError):
        part = None
    if part is None:
        return ""
    text = _decoded(part)
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    return re.sub(r"\n{3,}", "\n\n", text.replace("\r\n", "\n")).strip()


def strip_quoted(text: str) -> str:
    """The new part of a reply, without the history quoted below it."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if i > 0 and (QUOTE_START.match(line.strip()) or _quoted_tail(lines[i:])):
            kept = "\n".join(lines[:i]).rstrip()
            return kept or text
    return text


def _quoted_tail(lines: list[str]) -> bool:
    rest = [line for line in lines if line.strip()]
    return bool(rest) and all(line.lstrip().startswith(">") for line in rest)


def _decoded(part: EmailMessage) -> str:
    try:
        content = part.get_content()
        text = content if isinstance(content, str) else content.decode("utf-8", "replace")
    except (LookupError, UnicodeError, AssertionError, ValueError):
        text = "\ufffd"
    if "\ufffd" not in text:
        return text
    # An unknown, missing or lying charset: guess from the bytes, as mail clients do.
    payload = part.get_payload(decode=True) or b""
    for charset in ("utf-8", "windows-1251"):
        try:
            return payload.decode(charset)
        except UnicodeDecodeError:
            continue
    return payload.decode("latin-1", "replace")


def _attachments(message: EmailMessage, limit: int) -> list[Attachment]:
    found = []
    for part in message.iter_attachments():
        if part.is_multipart():
            continue
        filename = _safe_filename(part.get_filename() or f"attachment.{part.get_content_subtype()}")
        try:
            payload = part.get_payload(decode=True) or b""
        except (ValueError, AssertionError):
            payload = b""
        content = payload if len(payload) <= limit else b""   # too big to keep: listed with its size
        found.append(Attachment(filename, part.get_content_type(), len(payload), content))
    return found


def _safe_filename(name: str) -> str:
    name = name.replace("\\", "/").split("/")[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip().lstrip(".")
    return name[:150] or "attachment"


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except (IndexError, ValueError, AttributeError, TypeError):
        # email.policy.default raises on some broken headers; take the raw value instead.
        raw = message.get_all(name, failobj=[]) if hasattr(message, "get_all") else []
        value = str(raw[0]) if raw else ""
    return str(value or "").strip()


def _ids(value: str) -> list[str]:
    return MESSAGE_ID.findall(value)


def _address(message: EmailMessage, header: str) -> tuple[str, str | None]:
    """The first valid (display name, normalized address) in `header`."""
    for name, address in getaddresses([_header(message, header)]):
        if not address:
            continue
        try:
            return name.strip(), normalize_email(address)
        except InvalidIdentity:
            continue
    return "", None
