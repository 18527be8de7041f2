"""A parsed message's headers as the lead needs them: each read once, common shapes without the registry."""
from __future__ import annotations

from collections.abc import Callable
from email.headerregistry import AddressHeader, DateHeader, MessageIDHeader, UnstructuredHeader
from email.message import EmailMessage
from email.utils import getaddresses
from functools import lru_cache

from channels.email import header_words
from channels.email.charsets import fix_header_text, without_controls
from channels.email.header_policy import HEADERS
from channels.identity import InvalidIdentity, normalize_email

Shortcut = Callable[[str], "str | None"]


class MailHeaders:
    """The first value of each header of `message`, decoded on first use and kept.

    Each value reads as `decoded_header(message, name)` would: the shortcuts in `header_words` take the
    shapes they read exactly, and the policy's registry (with its repairs) takes the rest.
    """

    def __init__(self, message: EmailMessage) -> None:
        self._message = message
        self._raw: dict[str, str] = {}
        for key, value in message.raw_items():
            self._raw.setdefault(key.lower(), value)
        self._text: dict[str, str] = {}
        self._first: dict[str, tuple[str, str | None]] = {}

    def __contains__(self, name: str) -> bool:
        return name in self._raw

    def text(self, name: str) -> str:
        """The decoded value of header `name` (lower case), "" when absent."""
        found = self._text.get(name)
        if found is None:
            found = self._text[name] = self._decode(name)
        return found

    def first_address(self, name: str) -> tuple[str, str | None]:
        """The first valid (display name, normalized address) in header `name`; ("", None) when none is."""
        found = self._first.get(name)
        if found is None:
            pairs = self._mailboxes(name)
            if pairs is None:
                found = first_address(self.text(name))
            else:
                found = next(((display, valid) for display, address in pairs if (valid := valid_address(address))),
                             ("", None))
            self._first[name] = found
        return found

    def addresses(self, name: str) -> list[str]:
        """Every address in header `name`, as written (not checked)."""
        pairs = self._mailboxes(name)
        if pairs is None:
            pairs = getaddresses([self.text(name)])
        return [address for _, address in pairs if address]

    def _mailboxes(self, name: str) -> list[tuple[str, str]] | None:
        """The shortcut's reading of address header `name`; None when it is absent or left to the registry."""
        raw = self._raw.get(name)
        if not isinstance(raw, str) or not _is_address(name):
            return None
        return header_words.mailboxes(header_words.unfolded(raw))

    def _decode(self, name: str) -> str:
        raw = self._raw.get(name)
        if raw is None:
            return ""
        shortcut = _shortcut(name)
        if shortcut is not None and isinstance(raw, str):
            value = shortcut(header_words.unfolded(raw))
            # Left for the registry: what `fix_header_text` would repair (replacement marks, undecoded words).
            if value is not None and "\ufffd" not in value and "=?" not in value:
                return without_controls(value).strip()
        return decoded_header(self._message, name)


def decoded_header(message: EmailMessage, name: str) -> str:
    """A header's value through the policy's registry ("" when absent); broken encodings repaired, never raised."""
    raw = next((v for k, v in message.raw_items() if k.lower() == name), None)
    if raw is None:
        return ""
    try:
        value = str(message.get(name) or "")
    except Exception:   # email.policy.default raises on some broken headers: take the raw text
        value = raw.encode("ascii", "surrogateescape").decode("utf-8", "replace") if isinstance(raw, str) else ""
    return fix_header_text(value, raw).strip()


def valid_address(address: str | None) -> str | None:
    """`address` normalized, or None when it is no mailbox."""
    if not address:
        return None
    try:
        return normalize_email(address.strip("<>"))
    except InvalidIdentity:
        return None


# A client's next mail repeats its From: the old parser plus e-mail validation was ~15% of a mail's parse.
@lru_cache(maxsize=4096)
def first_address(value: str) -> tuple[str, str | None]:
    """The first valid (display name, normalized address) in a decoded address header."""
    for display, address in getaddresses([value]):
        if address and (normalized := valid_address(address)):
            return display.strip(), normalized
    return "", None


@lru_cache(maxsize=256)
def _shortcut(name: str) -> Shortcut | None:
    """The shortcut for the registry's class of header `name`, if there is one."""
    kind = HEADERS[name]
    if issubclass(kind, UnstructuredHeader):
        return header_words.unstructured
    if issubclass(kind, MessageIDHeader):
        return header_words.message_id
    if issubclass(kind, DateHeader):
        return header_words.date
    return None


@lru_cache(maxsize=256)
def _is_address(name: str) -> bool:
    return issubclass(HEADERS[name], AddressHeader)
