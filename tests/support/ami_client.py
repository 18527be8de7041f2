"""A real panoramisk client of the simulated PBX that keeps every event, for the PBX's own tests."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from panoramisk import Manager

from simulators.pbx.server import SimulatedPbx

SECRET = "s3cret"
CALL_EVENTS = ("Newchannel", "QueueCallerJoin", "AgentCalled", "DialBegin", "DialState", "DialEnd", "AgentConnect",
               "BridgeEnter", "AgentComplete", "AgentRingNoAnswer", "QueueCallerAbandon", "BlindTransfer",
               "AttendedTransfer", "Hangup", "OriginateResponse", "QueueCallerLeave")


class Client:
    """One real panoramisk Manager with every event it receives."""

    def __init__(self, pbx: SimulatedPbx, secret: str = SECRET) -> None:
        self.events: list[dict[str, str]] = []
        self._changed = asyncio.Event()
        self.manager = Manager(host="127.0.0.1", port=pbx.port, username="switchboard", secret=secret,
                               ping_delay=1000, ping_interval=1000, reconnect_timeout=1000,
                               loop=asyncio.get_running_loop())
        self.manager.register_event("*", self._on_event)

    def _on_event(self, manager: Manager, message: Any) -> None:
        self.events.append(dict(message))
        self._changed.set()

    async def login(self) -> Any:
        await self.manager.connect()
        async with asyncio.timeout(60):
            return await self.manager.authenticated_future

    async def until(self, test: Callable[[], bool]) -> None:
        async with asyncio.timeout(60):
            while not test():
                self._changed.clear()
                await self._changed.wait()

    async def send(self, action: dict[str, Any]) -> Any:
        async with asyncio.timeout(60):
            return await self.manager.send_action(action)

    def of(self, *kinds: str, linkedid: str | None = None) -> list[dict[str, str]]:
        return [e for e in self.events if e.get("Event") in kinds and linkedid in (None, e.get("Linkedid"))]

    def story(self, linkedid: str | None = None) -> list[str]:
        """The call-relevant events in arrival order."""
        return [e["Event"] for e in self.of(*CALL_EVENTS, linkedid=linkedid)]
