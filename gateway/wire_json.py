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
from typing import Any

import orjson
from aiohttp import web

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps(value: Any) -> bytes:
    """`value` as UTF-8 JSON."""
    try:
        return orjson.dumps(value, default=str, option=_OPTIONS)
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":")).encode()


def json_response(data: Any, status: int = 200) -> web.Response:
    """`web.json_response`, encoded by `dumps` (the same Content-Type, charset utf-8)."""
    return web.Response(body=dumps(data), status=status, content_type="application/json", charset="utf-8")
