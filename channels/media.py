"""Downloading a message's media without ever holding more than the configured limit."""
from __future__ import annotations

import logging
from collections.abc import Mapping

import aiohttp

from channels.types import Attachment

log = logging.getLogger(__name__)


async def fetch_attachment(http: aiohttp.ClientSession, url: str, *, filename: str, content_type: str,
                           limit: int, headers: Mapping[str, str] | None = None) -> Attachment:
    """The file at `url`; over `limit` (or unreachable) it is listed with its size but not kept."""
    try:
        async with http.get(url, headers=dict(headers or {})) as response:
            response.raise_for_status()
            declared = response.content_length
            if declared is not None and declared > limit:
                return Attachment(filename, content_type, declared)
            content = await response.content.read(limit + 1)
    except aiohttp.ClientError as exc:
        log.warning("media %s not fetched: %s", filename, exc)
        return Attachment(filename, content_type, 0)
    if len(content) > limit:
        return Attachment(filename, content_type, declared or len(content))
    return Attachment(filename, content_type, len(content), content)

