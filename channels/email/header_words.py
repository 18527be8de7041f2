"""Exact shortcuts through the header shapes nearly all mail has, for the SMTP intake's hot path.

`email.headerregistry` builds a token tree for every header it reads: ~120 us for a From, ~25 us for a
Subject or a Message-ID, most of a mail's parse. Each function here reads one common shape — plain
words, whole RFC 2047 encoded words, `Name <local@domain>` — and returns what the registry's header
would have said (`str(header)`; for addresses, the pairs `email.utils.getaddresses` reads back from that
text); for any other shape (comments, quoted strings, groups, broken encodings, 8-bit bytes in an
address) it returns None and the caller asks the registry. tests/channels/email/test_email_header_words.py
holds each against the registry over generated headers, nasty ones included.
"""
from __future__ import annotations

import base64
import binascii
import re
from email.utils import format_datetime, parsedate_to_datetime

# A whole encoded word, as `email._header_value_parser.get_encoded_word` splits it: no "?" in the text, no
# RFC 2231 language ("*"), and a Q text that starts with "=" only as an "=XX" escape (the parser's own rule).
_WORD = re.compile(r"=\?([^?\s*]+)\?([bBqQ])\?((?:=[0-9A-Fa-f]{2}|[^?\s=])[^?\s]*)\?=")
_Q_ESCAPE = re.compile(rb"=([a-fA-F0-9]{2})")
_WSP = re.compile(r"([ \t]+)")
_LINE_BREAKS = re.compile(r"[\r\n]")
# RFC 5322 atext (no specials, no spaces), and an address made of dot-atoms.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_ATOM = re.compile(rf"{_ATEXT}+")
_ADDRESS = rf"{_ATEXT}+(?:\.{_ATEXT}+)*@{_ATEXT}+(?:\.{_ATEXT}+)*"
_ADDRESS_ONLY = re.compile(_ADDRESS)
# ASCII without controls: the only blanks are spaces and tabs, the only ones the parser takes for blanks.
_PRINTABLE = re.compile(r"[ \t!-~]*")
_MSG_ID = re.compile(rf"[ \t]*<{_ATEXT}+(?:\.{_ATEXT}+)*@{_ATEXT}+(?:\.{_ATEXT}+)*>[ \t]*")
# What the registry would quote, unfold or re-read in a display name: then it is not a plain one.
# Looked for with the regex engine, not a generator per character (a Cyrillic subject is all non-ASCII).
_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")     # an 8-bit byte the parser kept as a surrogate
_NOT_PLAIN = re.compile(r'[\x00-\x1f\x7f()<>@,:;."\[\]\\\ud800-\udfff\ufffd]|=\?|\s\s|^\s|\s$')


def unfolded(value: str) -> str:
    """A raw header value as the policy hands it to the registry: line breaks removed."""
    return _LINE_BREAKS.sub("", value)


def unstructured(value: str) -> str | None:
    """An unstructured header's text (Subject, References, ...) when made of plain and whole encoded words."""
    parts = _WSP.split(value)       # words at even places, the blanks between them at odd ones
    words: list[str | None] = [_word(part) if "=?" in part else None for part in parts[::2]]
    out: list[str] = []
    for i, part in enumerate(parts):
        if i % 2:
            # Blanks between two encoded words are not text (RFC 2047 6.2); others are kept as they are.
            if not (words[i // 2] is not None and words[i // 2 + 1] is not None):
                out.append(part)
            continue
        if "=?" in part:
            decoded = words[i // 2]
            if decoded is None or "=?" in decoded:
                return None
            out.append(decoded)
        else:
            out.append(part)
    return _sanitized("".join(out))


def mailboxes(value: str) -> list[tuple[str, str]] | None:
    """(display name, address) of each mailbox of an address header, when each is `address`, `<address>` or
    `words <address>` with plain words or whole encoded words; the pairs getaddresses reads from `str(header)`."""
    if not _PRINTABLE.fullmatch(value):
        return None
    if not value.strip():
        return []
    found = []
    for item in value.split(","):
        item = item.strip()
        phrase, angle, address = item.rpartition("<")
        if angle:
            if not address.endswith(">") or "<" in phrase or ">" in phrase:
                return None
            address = address[:-1]
        if not _ADDRESS_ONLY.fullmatch(address) or "=?" in address:
            return None
        display = _display_name(phrase) if phrase.strip() else ""
        if display is None:
            return None
        found.append((display, address))
    return found


def message_id(value: str) -> str | None:
    """A Message-ID header's text when it is one `<dot-atom@dot-atom>`."""
    return value if _MSG_ID.fullmatch(value) else None


def date(value: str) -> str | None:
    """A Date header's text: the date as the registry writes it back, or the value itself when unreadable."""
    if not value or not value.isascii():
        return None
    try:
        when = parsedate_to_datetime(value)
    except ValueError:
        return value
    except Exception:   # anything else: the registry's own answer (or its error) decides
        return None
    try:
        return format_datetime(when)
    except Exception:
        return None


def _display_name(phrase: str) -> str | None:
    words = []
    for word in phrase.split():
        if _ATOM.fullmatch(word) and "=?" not in word:
            words.append(word)
            continue
        decoded = _word(word)
        if decoded is None or _NOT_PLAIN.search(decoded):
            return None
        words.append(decoded)
    return " ".join(words)


def _word(token: str) -> str | None:
    """The text of one whole encoded word, decoded as the registry does; None when not exactly that."""
    match = _WORD.fullmatch(token)
    if match is None:
        return None
    charset, encoding, text = match.groups()
    data = text.encode("ascii", "surrogateescape")
    if encoding in "bB":
        if len(data) % 4:
            return None         # the registry repairs the padding and notes a defect: leave that to it
        try:
            data = base64.b64decode(data, validate=True)
        except binascii.Error:
            return None
    else:
        data = _Q_ESCAPE.sub(lambda m: bytes.fromhex(m.group(1).decode()), data.replace(b"_", b" "))
    try:
        decoded = data.decode(charset)
    except (LookupError, UnicodeError):
        return None
    if _SURROGATE.search(decoded):
        return None
    return decoded


def _sanitized(text: str) -> str | None:
    """8-bit bytes (kept as surrogates by the parser) read as UTF-8, as the registry does; None if they are not."""
    if text.isascii() or not _ESCAPED_BYTE.search(text):
        return text
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8")
    except UnicodeError:
        return None
