"""Reading ids, numbers and dates from paths, queries and bodies, within what the database can hold.

`str.isdigit()` says yes to "²" and `int()` then fails; `\\d` in a route pattern matches any
script's digits (routes use `[0-9]+`); an id past 2**63 - 1 overflows both engines' integers.
Every public number goes through here.
"""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import Annotated

from aiohttp import web
from pydantic import Field

from gateway.errors import refuse

# The largest key either engine stores (PostgreSQL BIGINT; SQLite INTEGER is 64-bit too).
MAX_ID = 2**63 - 1

DbId = Annotated[int, Field(gt=0, le=MAX_ID)]
"""A body field naming a row: 422 naming the field when it cannot be one."""

_DIGITS = re.compile(r"[0-9]{1,19}")


def as_id(raw: str | None) -> int | None:
    """`raw` as a row id, or None when it cannot be one (not ASCII digits, zero, or too large)."""
    if raw is None or not _DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None


def path_id(request: web.Request, name: str, what: str) -> int:
    """The id in the path; an id that cannot exist is simply not found."""
    raw = request.match_info[name]
    value = as_id(raw)
    if value is None:
        refuse(404, "not_found", f"{what} {raw[:40]!r} not found")
    return value


def query_id(request: web.Request, name: str) -> int | None:
    """An optional id in the query: absent is None, anything but an id is 422 naming it."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    value = as_id(raw)
    if value is None:
        refuse(422, "invalid", f"{name} must be an id (a whole number from 1 to {MAX_ID})", name)
    return value


def query_int(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw) or not lo <= int(raw) <= hi:
        refuse(422, "invalid", f"{name} must be a whole number from {lo} to {hi}", name)
    return int(raw)


# Reports ask about the business's lifetime; these bounds keep `day + 1` and time zones inside datetime.
EARLIEST, LATEST = date(1970, 1, 1), date(9000, 12, 31)


def query_day(request: web.Request, name: str, default: date) -> datetime:
    """A `YYYY-MM-DD` in the query as midnight UTC of that day."""
    raw = request.query.get(name)
    try:
        day = date.fromisoformat(raw) if raw and raw.isascii() else (default if not raw else None)
    except ValueError:
        day = None
    if day is None or not EARLIEST <= day <= LATEST:
        refuse(422, "invalid", f"{name} must be a date like 2026-11-01, from {EARLIEST} to {LATEST}", name)
    return datetime.combine(day, time(), UTC)

