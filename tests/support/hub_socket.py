"""A hub served on loopback for one signed-in principal, as the gateway's /ws route serves it."""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.auth_types import Principal
from gateway.hub import Hub


@contextlib.asynccontextmanager
async def hub_url(hub: Hub, who: Principal) -> AsyncIterator[str]:
    """The websocket address where `who`'s screens reach `hub` (`?watch=board` for a board's socket)."""
    async def handle(request: web.Request) -> web.WebSocketResponse:
        return await hub.handle(request, who, request.query.get("watch"))

    app = web.Application()
    app.router.add_get("/ws", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]     # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/ws"
    finally:
        await runner.cleanup()
