"""An operator's screen in a test: a real websocket client reading the hub's frames as they come."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect


class Screen:
    """An operator's socket, as the `websockets` client library sees it; frames are read as they come."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            await self.frames.put(json.loads(raw))

    async def send(self, kind: str, **data: Any) -> None:
        await self.ws.send(json.dumps({"type": kind, "data": data}))

    async def expect(self, kind: str, timeout: float = 60.0, *, keep_others: bool = False) -> dict[str, Any]:
        """The next `kind` frame; the frames before it are dropped, or with `keep_others` left to read later."""
        skipped: list[dict[str, Any]] = []
        try:
            async with asyncio.timeout(timeout):
                while True:
                    frame = await self.frames.get()
                    if frame["type"] == kind:
                        return frame["data"]
                    skipped.append(frame)
        finally:
            if keep_others and skipped:
                rest = [self.frames.get_nowait() for _ in range(self.frames.qsize())]
                for frame in skipped + rest:
                    self.frames.put_nowait(frame)

    async def quiet(self, kind: str, for_seconds: float) -> bool:
        """True if no `kind` frame arrives for a while."""
        try:
            await self.expect(kind, timeout=for_seconds)
        except TimeoutError:
            return True
        return False


@asynccontextmanager
async def screen(api, name: str, *, available: bool = True) -> AsyncIterator[Screen]:  # type: ignore[no-untyped-def]
    token = (await api.login(name))["Authorization"].split()[1]
    async with connect(f"ws://127.0.0.1:{api.client.port}/ws?token={token}") as ws:
        s = Screen(ws)
        if available:
            await s.send("presence.set", presence="available")
            # What the connect sent (offers, ringing calls) stays readable by the test.
            assert (await s.expect("presence.set.ok", keep_others=True))["presence"] == "available"
        try:
            yield s
        finally:
            s._reader.cancel()
