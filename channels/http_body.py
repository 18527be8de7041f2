"""Reading a request body whole within a size limit, and decoding JSON that cannot crash the reader.

Shared by every webhook and form adapter and by the gateway's API: `request.content.read(n)`
returns only what is already buffered (one TCP segment, often), so reading "up to n" that way
refuses a valid body sent in two parts and accepts a valid prefix followed by garbage.
"""
from __future__ import annotations

import json
from typing import Any

from aiohttp import web


class BodyTooLarge(Exception):
    """The body is over the limit (declared by Content-Length, or counted while reading)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the body is larger than {limit} bytes")
        self.limit = limit


class MalformedJson(ValueError):
    """Not JSON we can read: bad syntax, not UTF-8, or nested deeper than the parser can go."""


async def read_bounded(request: web.Request, limit: int) -> bytes:
    """The whole body; raises BodyTooLarge as soon as it exceeds `limit`, chunked or not."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge(limit)
    # Counted while reading: a chunked body has no Content-Length, and a declared one can lie.
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes | str) -> Any:
    """`json.loads`, with every way it can fail on hostile input turned into MalformedJson."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise MalformedJson(f"malformed JSON: {exc.msg} at position {exc.pos}") from None
    except UnicodeDecodeError:
        raise MalformedJson("the body is not valid UTF-8") from None
    except RecursionError:
        # `[[[[...` a hundred thousand deep fits in a small body and exhausts the C stack guard.
        raise MalformedJson("JSON nested too deeply") from None
