"""Bytes of unknown or lying charset turned into text the way mail clients guess: UTF-8, then Cyrillic or Latin."""
from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re

_HIGH_RUN = re.compile(rb"[\x80-\xff]+")
_CYRILLIC_LOWER = re.compile("[а-яё]")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def known_charset(name: str | None) -> str | None:
    """The codec Python has for `name` (aliases such as "win-1251" included), or None."""
    if not name:
        return None
    name = name.strip().strip('"').lower()
    for candidate in (name, name.replace("win-", "windows-"), name.replace("cp-", "cp"), name.replace("_", "-")):
        try:
            return codecs.lookup(candidate).name
        except LookupError:
            continue
    return None


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """Decode `data`: the declared charset when it fits, else a guess; never raises."""
    charset = known_charset(declared)
    if charset and not charset.startswith("utf-8"):
        try:
            return data.decode(charset)
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return data.decode(guess_8bit(data), "replace")


def guess_8bit(data: bytes) -> str:
    """windows-1251, koi8-r or windows-1252 for non-UTF-8 bytes, from their shape."""
    runs = _HIGH_RUN.findall(data)
    if not runs:
        return "ascii"
    # Cyrillic words are runs of high bytes; Latin text has one accented letter among ASCII ones.
    if sum(len(r) for r in runs) / len(runs) < 2.5:
        return "windows-1252"
    # Each Cyrillic codec reads the other's lower case as upper case: real text is mostly lower case.
    lower = {cs: len(_CYRILLIC_LOWER.findall(data.decode(cs, "replace"))) for cs in ("windows-1251", "koi8-r")}
    return max(lower, key=lower.__getitem__)


def fix_header_text(value: str, raw: str | None) -> str:
    """A header decoded by the parser, repaired: raw 8-bit text re-read, encoded words the parser left decoded."""
    if "\ufffd" in value and raw is not None:
        data = raw.encode("ascii", "surrogateescape") if isinstance(raw, str) else bytes(raw)
        value = " ".join(decode_bytes(data).split())
    if "=?" in value:
        value = _ENCODED_WORD.sub(_decode_word, value)
    return without_controls(value)


def without_controls(text: str) -> str:
    """`text` without control characters other than tab and newline."""
    return _CONTROL.sub("", text)


def _decode_word(match: re.Match[str]) -> str:
    # An RFC 2047 word in a charset Python lacks: its bytes, read the way bodies are.
    charset, encoding, data = match.groups()
    try:
        if encoding in "bB":
            raw = base64.b64decode(data + "=" * (-len(data) % 4))
        else:
            raw = quopri.decodestring(data.encode("ascii", "replace"), header=True)
    except (binascii.Error, ValueError):
        return match.group(0)
    return decode_bytes(raw, charset)
