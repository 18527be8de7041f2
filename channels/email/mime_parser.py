"""The standard library's feed parser, without the regex it compiles for every multipart mail.

`email.feedparser` matches a multipart's boundary lines with a regex it compiles from the boundary
(`FeedParser._parsegen`). Boundaries are unique per mail, so `re.compile` misses its cache every time:
~20 % of parsing a realistic multipart/alternative mail, once per multipart level. The parser here is
the library's own code, run from a private copy of its module whose `re.compile` answers exactly that
pattern with `BoundaryMatcher`: the literal separator checked with `str.startswith`, the rest of the
line by the pattern's tail compiled once. Any other pattern, or a boundary whose pattern is not
exactly the one expected, goes to `re.compile` unchanged. `tests/channels/email/test_email_mime_parser.py`
holds the two parsers equal over realistic and broken mail.

A single-part mail whose header lines are all plain `Name: value` lines is built without the feed parser at all
(`_single_part`): for that shape the parser only splits the header lines, hands each to the policy and keeps
the rest as the payload; its line machinery (a generator, a StringIO and a regex per line) was a third of
parsing the usual text/plain mail.
"""
from __future__ import annotations

import importlib.util
import re
from email.message import EmailMessage
from email.policy import Policy
from types import ModuleType
from typing import Any

# The pattern `_parsegen` builds: '(?P<sep>' + re.escape('--' + boundary) + TAIL (CPython 3.8-3.13).
_HEAD = "(?P<sep>"
_TAIL = r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"
_AFTER_SEPARATOR = re.compile(_TAIL[1:])
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)


class BoundaryMatcher:
    """`re.compile(_HEAD + re.escape(separator) + _TAIL)`'s `match`, for the groups the feed parser reads
    (`end`, `linesep`) and its truth: the separator is a literal, so the regex engine is needed only after it."""

    __slots__ = ("_separator", "_after")

    def __init__(self, separator: str) -> None:
        self._separator = separator
        self._after = len(separator)

    def match(self, line: str) -> re.Match[str] | None:
        if not line.startswith(self._separator):
            return None
        return _AFTER_SEPARATOR.match(line, self._after)


def boundary_pattern_separator(pattern: str) -> str | None:
    """The separator whose boundary pattern `pattern` is, exactly; None for any other pattern."""
    if not (pattern.startswith(_HEAD) and pattern.endswith(_TAIL)):
        return None
    escaped = pattern[len(_HEAD):-len(_TAIL)]
    separator = _ESCAPED.sub(lambda found: found.group(1), escaped)
    # Only when escaping it again gives the very pattern: then the regex is that literal and the tail.
    return separator if re.escape(separator) == escaped else None


def _compile(pattern: Any, flags: int = 0) -> Any:
    if flags == 0 and isinstance(pattern, str):
        separator = boundary_pattern_separator(pattern)
        if separator is not None:
            return BoundaryMatcher(separator)
    return re.compile(pattern, flags)


class _Re:
    """What the private feed parser module sees as `re`: the real module, but for `compile`."""

    compile = staticmethod(_compile)

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)


def _private_feedparser() -> ModuleType:
    # A copy of the module, not a patch of it: everyone else's `email.feedparser` stays the library's.
    spec = importlib.util.find_spec("email.feedparser")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.re = _Re()       # type: ignore[attr-defined]  # its module-level patterns are compiled already
    return module


_FEEDPARSER = _private_feedparser()

# Header lines the feed parser takes one by one as they are: a field name (its `headerRE`: no blank, no colon,
# so never a "From " envelope line) and a colon, printable ASCII after it, CRLF; no continuation lines.
_PLAIN_HEADER_LINES = re.compile(r"(?:[!-9;-~]+:[\t -~]*\r\n)+")


def parse_bytes(raw: bytes, policy: Policy) -> EmailMessage:
    """What `BytesParser(policy=policy).parsebytes(raw)` returns."""
    # As BytesParser does: non-ASCII bytes kept as surrogates for the policy to decode per part.
    text = raw.decode("ascii", "surrogateescape")
    message = _single_part(text, policy)
    if message is None:
        parser = _FEEDPARSER.FeedParser(policy=policy)
        parser.feed(text)
        message = parser.close()
    return message


def _single_part(text: str, policy: Policy) -> EmailMessage | None:
    """The feed parser's message for a mail of plain header lines, a blank line and a body that is not parsed
    further (not multipart/*, not message/*); None for any other mail."""
    end = text.find("\r\n\r\n")
    factory = getattr(policy, "message_factory", None)
    if end < 0 or factory is None or not _PLAIN_HEADER_LINES.fullmatch(text, 0, end + 2):
        return None
    # `FeedParser._new_message` and `_parse_headers`: one header source line each, in order.
    message: EmailMessage = factory(policy=policy)
    for line in text[:end + 2].splitlines(keepends=True):
        message.set_raw(*policy.header_source_parse([line]))
    # `_parsegen` parses further only message/* and multipart/* (message/delivery-status is one of them).
    if message.get_content_maintype() in ("message", "multipart"):
        return None
    message.set_payload(text[end + 4:])     # the rest of the input, as the parser joins its lines back
    return message
