"""The readable body and the attached files of a parsed message, whatever its MIME shape."""
from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass, field
from email.message import EmailMessage

from channels.email.charsets import decode_bytes, without_controls
from channels.email.html_text import html_to_text
from channels.types import Attachment

_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')
_BLANK_RUN = re.compile(r"\n{3,}")


@dataclass
class Attachments:
    """Files found in a message; those over the size limit are listed without their content."""

    files: list[Attachment] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)    # "name (size bytes)" of the oversized ones


def readable_body(message: EmailMessage) -> tuple[EmailMessage | None, str | None]:
    """The part to read: text/plain preferred, HTML when the plain one is missing or blank; and its decoded
    text when choosing it needed that (the plain part's), so that it is decoded once."""
    for preference in (("plain",), ("html",)):
        try:
            part = message.get_body(preferencelist=preference)
        except (KeyError, LookupError, ValueError, AttributeError, TypeError):
            part = None
        if part is None:
            continue
        if preference == ("html",):
            return part, None
        decoded = decoded_text(part)
        if decoded.strip():
            return part, decoded
    return None, None


def body_text(message: EmailMessage, part: EmailMessage | None = None, decoded: str | None = None) -> str:
    """The readable text of `message`: HTML turned into text, any charset decoded, blank runs folded.

    `decoded` is `part`'s decoded text when the caller has it (`readable_body`)."""
    if part is None:
        part, decoded = readable_body(message)
    if part is None:
        return ""
    text = decoded if decoded is not None else decoded_text(part)
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    text = without_controls(text.replace("\r\n", "\n").replace("\r", "\n"))
    return _BLANK_RUN.sub("\n\n", text).strip()


def decoded_text(part: EmailMessage) -> str:
    """A text part's content; an unknown, missing or lying charset is guessed from the bytes."""
    try:
        payload = part.get_payload(decode=True)
    except (ValueError, AssertionError, TypeError):
        payload = None
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    try:
        charset = part.get_content_charset()
    except (ValueError, TypeError, AttributeError):
        charset = None
    return decode_bytes(payload, charset)


def attachments(message: EmailMessage, body: EmailMessage | None, limit: int) -> Attachments:
    """Every file in the message, nested ones and attached e-mails included, except the body itself."""
    found = Attachments()
    _visit(message, body, limit, found, depth=0)
    return found


def _visit(part: EmailMessage, body: EmailMessage | None, limit: int, found: Attachments, depth: int) -> None:
    if part is body or depth > 20:
        return
    ctype = part.get_content_type()
    if ctype == "message/rfc822":
        _add(part, _embedded_bytes(part), limit, found, default=f"message-{len(found.files) + 1}.eml")
        return
    if part.is_multipart():
        for sub in part.iter_parts():
            _visit(sub, body, limit, found, depth + 1)
        return
    filename = _filename(part)
    if part.get_content_maintype() == "text" and not filename and part.get_content_disposition() != "attachment":
        return      # the HTML twin of the plain body, or a text fragment: not a file
    try:
        payload = part.get_payload(decode=True)
    except (ValueError, AssertionError, TypeError):
        payload = None
    _add(part, payload if isinstance(payload, bytes) else b"", limit, found, default=None)


def _add(part: EmailMessage, payload: bytes, limit: int, found: Attachments, default: str | None) -> None:
    ctype = part.get_content_type()
    extension = mimetypes.guess_extension(ctype) or ".bin"
    name = safe_filename(_filename(part) or default or f"attachment-{len(found.files) + 1}{extension}")
    if len(payload) > limit:
        found.dropped.append(f"{name} ({len(payload)} bytes)")
        payload_kept = b""
    else:
        payload_kept = payload
    found.files.append(Attachment(name, ctype, len(payload), payload_kept))


def _embedded_bytes(part: EmailMessage) -> bytes:
    try:
        inner = part.get_payload(0)
        return inner.as_bytes()
    except Exception:   # an attached mail too broken to re-serialize: keep what bytes there are
        raw = part.get_payload()
        return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""


def _filename(part: EmailMessage) -> str | None:
    try:
        return part.get_filename()
    except (ValueError, TypeError, LookupError, AttributeError):
        return None


def safe_filename(name: str) -> str:
    """A file name with no path, no control or reserved characters, no leading dot, at most 150 characters."""
    name = name.replace("\\", "/").split("/")[-1]
    name = _UNSAFE.sub("_", name.replace("\ufffd", "_")).strip().lstrip(".").rstrip(". ")
    if len(name) > 150:
        stem, dot, extension = name.rpartition(".")
        name = (stem[:140] + dot + extension[:9]) if dot and len(extension) < 10 else name[:150]
    return name or "attachment"
