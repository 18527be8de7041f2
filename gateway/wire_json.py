"""JSON as it goes on the wire (frames to the screens, the busiest API answers), encoded by orjson.

The standard library's encoder was 5-6% of the routed loop's CPU (bench/loop.py: two frames with a card and a
PATCH answer a lead); orjson writes the same JSON in a sixth of the time. What it writes is what
`json.dumps(value, ensure_ascii=False, default=str)` wrote, without the blanks after "," and ":": datetimes
and dataclasses still go through `str` (orjson's own forms would differ), keys that are not strings are
written as strings, and a value orjson refuses (an integer beyond 64 bits, nesting deeper than 254) is encoded
by the standard library. A float that is not a number becomes null (the standard library wrote NaN, which no
JSON parser, the browser's included, accepts).
"""
from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps(value: Any) -> bytes:
    """`value` as UTF-8 JSON."""
    try:
        return orjson.dumps(value, default=str, option=_OPTIONS)
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":")).encode()


def iso(value: date | None) -> str | None:
    """`value.isoformat()` (None, and a falsy value, stay None), written by orjson where it writes the very same
    string (a date; a datetime naive or in UTC: checked against isoformat over the years 1-9999) in a third of the
    time: a routed lead's two cards and its PATCH answer hold ~18 of them. Other zones keep isoformat (orjson
    drops an offset's seconds)."""
    if not value:
        return None
    kind = type(value)
    if kind is date or (kind is datetime and value.tzinfo in _ZONES_ALIKE):    # type: ignore[attr-defined]
        return orjson.dumps(value)[1:-1].decode()
    return value.isoformat()


_ZONES_ALIKE = (None, UTC)
