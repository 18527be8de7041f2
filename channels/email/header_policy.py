"""The e-mail policy the parser reads with: the standard one, its header classes made once, parsed headers reused,
each part's content type worked out once."""
from __future__ import annotations

from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage


class HeaderClasses(HeaderRegistry):
    """The standard registry, with each header's class made once and each parsed header reused.

    `HeaderRegistry.__getitem__` builds a new class with `type()` on each call (~60 us), and
    `email.policy.default` parses a header anew on every read: `get_content_type()` alone re-parses
    Content-Type each time, ~14 parses a mail, most of the SMTP intake's CPU (bench/email.py). Parsed
    headers are immutable `str`s that depend only on name and value, so they are memoized (bounded).
    """

    MEMO_ENTRIES = 4096
    MEMO_VALUE_CHARS = 2000     # long References and the like are rare and read once: not worth keeping

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}
        self._parsed: dict[tuple[str, str], BaseHeader] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made

    def __call__(self, name: str, value: str) -> BaseHeader:
        if len(value) > self.MEMO_VALUE_CHARS:
            return self[name](name, value)
        key = (name, value)
        parsed = self._parsed.get(key)
        if parsed is None:
            if len(self._parsed) >= self.MEMO_ENTRIES:
                self._parsed.clear()
            parsed = self._parsed[key] = self[name](name, value)
        return parsed


_NO_HEADER = object()


class MailPart(EmailMessage):
    """`EmailMessage` whose content type is worked out once for each Content-Type value it has.

    The parser and our readers ask a part for its type several times (the feed parser, `get_body`, the
    attachments' walk): 36 times for a multipart/alternative with an attachment, each a header fetch through
    the policy and a split, ~9 % of `parse_message` on it. The answer depends only on the first Content-Type
    value (immutable, so its identity will do) and the default type: those are the key.
    """

    _content_type_of: tuple[object, str, str] | None = None

    def get_content_type(self) -> str:
        raw = _NO_HEADER
        for name, value in self._headers:
            if name.lower() == "content-type":
                raw = value
                break
        known = self._content_type_of
        if known is not None and known[0] is raw and known[1] == self._default_type:
            return known[2]
        found = super().get_content_type()
        self._content_type_of = (raw, self._default_type, found)
        return found


HEADERS = HeaderClasses()
POLICY = policy.default.clone(header_factory=HEADERS, message_factory=MailPart)
