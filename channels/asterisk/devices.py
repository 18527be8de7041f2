"""Which extension a channel or queue member belongs to (docs/design.md, voice mapping)."""
from __future__ import annotations

import re

# PJSIP/101-0000002a, SIP/101-00000001, IAX2/101-1234, Local/101@agents-00000006;1, Local/101@agents/n,
# PJSIP/101 (a member interface or an Originate target)
_DEVICE = re.compile(r"^(?:[A-Za-z0-9]+)/(?P<name>[^@/;-]+?)(?:@[^;/]*?)?(?:-[0-9a-f]{4,}(?:;[12])?)?(?:/n)?$")


def extension_of(channel: str | None) -> str | None:
    """`PJSIP/101-0000002a`, `SIP/101`, `Local/101@agents/n` → `101`; anything unreadable → None."""
    if not channel:
        return None
    match = _DEVICE.match(channel.strip())
    return match.group("name") if match else None


def local_half(channel: str | None) -> int | None:
    """1 or 2 for the two halves of a Local channel (`…;1` / `…;2`), None for anything else."""
    if channel and channel.startswith("Local/") and channel[-2:] in (";1", ";2"):
        return int(channel[-1])
    return None


def looks_like_extension(name: str) -> bool:
    """The default guess at a desk phone: a short number (trunks are called pstn, trunk, provider…)."""
    return name.isdigit() and len(name) <= 6


def caller_number(value: str | None) -> str | None:
    """Asterisk writes `<unknown>` or nothing when a caller id is absent; anonymous callers stay anonymous."""
    if not value or value in ("<unknown>", "unknown", "anonymous", "Anonymous"):
        return None
    return value
