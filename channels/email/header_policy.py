"""The e-mail policy the parser reads with: the standard one, its header classes made once, parsed headers reused."""
from __future__ import annotations

from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry


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


HEADERS = HeaderClasses()
POLICY = policy.default.clone(header_factory=HEADERS)
