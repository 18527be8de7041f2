"""How the HTTP server itself is run: options of aiohttp's server that the settings decide."""
from __future__ import annotations

from typing import Any

from gateway.settings import HttpSettings


def server_options(http: HttpSettings) -> dict[str, Any]:
    """Keyword arguments for `web.run_app` / `web.AppRunner`.

    aiohttp has no separate header timeout, but its keep-alive timer runs from the moment a
    connection opens and again after each response, and closes the connection if no complete
    request head arrived by then (data trickling in does not reset it). Left to aiohttp's default
    (3630 s under AppRunner) a crowd of half-open connections is held for an hour.
    """
    return {"keepalive_timeout": http.header_timeout_seconds}
