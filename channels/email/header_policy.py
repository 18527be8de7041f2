"""The e-mail policy the parser reads with: the standard one, its header classes made once, parsed headers reused,
each part's content type worked out once."""
from __future__ import annotations

import re
from email import policy, utils
from functools import lru_cache
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage, _parseparam  # type: ignore[attr-defined]  # the library's own splitter
from typing import Any


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
_UNFOLD = re.compile(r"\n|\r")          # as the policy unfolds a value before parsing it
# The shape nearly every Content-Type and Content-Disposition has: `type/subtype; name=token; name="text"`,
# in ASCII, parameter names in lower case, without comments, escapes, empty or repeated parameters, RFC 2231
# parameters (`*`: the parser's text has them decoded) or encoded words. The structured parser's text of such
# a value is the value itself (the tests hold the two equal over generated values), so the readers can split
# it without a parse tree.
_TOKEN = r"[!#$%&+\-.0-9A-Z^_`a-z{|}~]+"
_NAME = r"[!#$%&+\-.0-9^_`a-z{|}~]+"     # in lower case: the parser's text has names lower-cased
_QUOTED = r'"[ \t!#-\[\]-~]+"'
_PLAIN_MIME_VALUE = re.compile(
    rf"[ \t]*{_TOKEN}(?:/{_TOKEN})?(?:[ \t]*;[ \t]*{_NAME}=(?:{_TOKEN}|{_QUOTED}))*[ \t]*")
_PARAMETER_NAME = re.compile(rf";[ \t]*({_NAME})=")


@lru_cache(maxsize=1024)     # a pure test of the text, and the parts' values repeat from mail to mail
def _plain_mime_value(value: str) -> bool:
    """`value` has the plain shape, each parameter named once (the parser's text keeps only the first)."""
    if not _PLAIN_MIME_VALUE.fullmatch(value) or "=?" in value:
        return False
    names = _PARAMETER_NAME.findall(value) if ";" in value else []
    return len(names) == len(set(names))


class MailPart(EmailMessage):
    """`EmailMessage` that reads its Content-Type and Content-Disposition without the structured parser when
    their values are plain, and works out its content type once for each Content-Type value it has.

    The policy parses a MIME header into a token tree (~100 us) before `get_content_type`, `get_boundary`,
    `get_filename` or `get_content_charset` look at its text, and a multipart's Content-Type is unique to
    the mail (its boundary), so the policy's memo never has it: two such parses were a quarter of the
    intake's event loop on a multipart/alternative mail with an attachment. Those readers only split the
    text again (`_splitparam`, `_parseparam`); for a plain value that text is the value as written.
    The parser, `get_body` and the attachments' walk also ask a part for its type several times (36 for
    that mail): the answer depends only on the first Content-Type value (immutable, so its identity will
    do) and the default type, which are kept as its key.
    """

    _content_type_of: tuple[object, str, str] | None = None

    def _mime_value(self, name: str) -> Any:
        """The text the library's readers would split: the header's, parsed only when its value is not plain."""
        for key, value in self._headers:
            if key.lower() == name:
                if type(value) is str:          # as the parser stored it, not a header object set later
                    unfolded = "".join(_UNFOLD.split(value))
                    if _plain_mime_value(unfolded):
                        return unfolded
                return self.policy.header_fetch_parse(key, value)
        return _NO_HEADER

    def get_content_type(self) -> str:
        raw = _NO_HEADER
        for name, value in self._headers:
            if name.lower() == "content-type":
                raw = value
                break
        known = self._content_type_of
        if known is not None and known[0] is raw and known[1] == self._default_type:
            return known[2]
        # Message.get_content_type, on the value's text.
        value = self._mime_value("content-type")
        if value is _NO_HEADER:
            found = self.get_default_type()
        else:
            found = str(value).partition(";")[0].strip().lower()
            if found.count("/") != 1:
                found = "text/plain"
        self._content_type_of = (raw, self._default_type, found)
        return found

    def get_content_charset(self, failobj: Any = None) -> Any:
        # For a plain Content-Type the library's answer depends on the value's text alone: worked out once per
        # text ("text/plain; charset=utf-8" on most parts of most mail), by the library itself.
        value = self._mime_value("content-type")
        if type(value) is not str or "boundary=" in value:
            return super().get_content_charset(failobj)
        known = _CHARSETS.get(value, _NO_HEADER)
        if known is _NO_HEADER:
            if len(_CHARSETS) >= _PLAIN_PARAMS_KEPT:
                _CHARSETS.clear()
            known = _CHARSETS[value] = super().get_content_charset(_NO_HEADER)
        return failobj if known is _NO_HEADER else known

    def _get_params_preserve(self, failobj: Any, header: str) -> Any:
        value = self._mime_value(header.lower())
        if value is _NO_HEADER:
            return failobj
        if type(value) is not str or "boundary=" in value:
            return _split_params(value)     # a parsed header, or a value unique to its mail: nothing to reuse
        # A plain value's parameters depend on its text alone, and the parts' values repeat from mail to mail
        # ("text/plain; charset=utf-8"): split once. A fresh list each time, as the library's readers return.
        known = _PLAIN_PARAMS.get(value)
        if known is None:
            if len(_PLAIN_PARAMS) >= _PLAIN_PARAMS_KEPT:
                _PLAIN_PARAMS.clear()
            known = _PLAIN_PARAMS[value] = tuple(_split_params(value))
        return list(known)


_PLAIN_PARAMS: dict[str, tuple[tuple[str, Any], ...]] = {}
_CHARSETS: dict[str, Any] = {}       # a plain Content-Type's text -> its charset (or _NO_HEADER: none)
_PLAIN_PARAMS_KEPT = 1024


def _split_params(value: Any) -> list[tuple[str, Any]]:
    """Message._get_params_preserve, on the value's text."""
    params = []
    for p in _parseparam(value):
        try:
            name, val = p.split("=", 1)
            name = name.strip()
            val = val.strip()
        except ValueError:
            name = p.strip()
            val = ""
        params.append((name, val))
    return utils.decode_params(params)


HEADERS = HeaderClasses()
POLICY = policy.default.clone(header_factory=HEADERS, message_factory=MailPart)
