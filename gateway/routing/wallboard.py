"""The supervisors' wallboard: queue and channel numbers plus one row per agent, pushed at most every 0.25 s."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, tzinfo
from typing import Any


from crm_store import routing_log, users
from crm_store.session import Sessions
from gateway import frames
from gateway.notifier import Notifier
from gateway.routing.ports import WallboardExtra
from routing.engine import RoutingEngine
from routing.events import PresenceChanged, RoutingOutcome
from routing.stats import compute_stats
from routing.types import Presence

STATS_DEBOUNCE = 0.25


class Wallboard:
    def __init__(self, engine: RoutingEngine, sessions: Sessions, notifier: Notifier,
                 clock: Callable[[], float], spawn: Callable[[Callable[[], Any]], None],
                 zone: tzinfo = UTC) -> None:
        self._zone = zone
        self._engine = engine
        self._sessions = sessions
        self._notifier = notifier
        self._clock = clock
        self._spawn = spawn
        self._timer: asyncio.TimerHandle | None = None
        self._pending = False
        self._names: dict[int, str] = {}          # rows show people, not ids
        self._roles: dict[int, str] = {}
        self._since: dict[str, float] = {}        # when each agent's presence last changed here
        self.extras: list[WallboardExtra] = []    # e.g. calls in progress

    def changed(self, outcome: RoutingOutcome) -> None:
        """An outcome listener: note presence times; push once the burst is over."""
        for event in outcome.events:
            if isinstance(event, PresenceChanged):
                self._since[event.agent_id] = self._clock()
        if self._pending:
            return
        self._pending = True
        self._timer = asyncio.get_running_loop().call_later(STATS_DEBOUNCE, self._spawn, self._push)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    async def _push(self) -> None:
        self._pending = False
        if not self._notifier.queue_watched():
            # A snapshot of every waiting task 4 times a second for nobody was a fifth of the intake's CPU
            # (bench/ingest.py); a supervisor connecting gets a fresh one (Screens.on_connect).
            return
        await self._notifier.queue_stats(await self.compose())

    async def compose(self) -> dict[str, Any]:
        """Queue and channel numbers plus one row per agent, from one snapshot."""
        snapshot = await self._engine.snapshot()
        local = datetime.fromtimestamp(self._clock(), self._zone)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)   # the company's day
        async with self._sessions() as session:
            today = await routing_log.offers_today(session, midnight)
            missing = [int(a.id) for a in snapshot.agents if int(a.id) not in self._names]
            if missing:
                for user in await users.users_by_id(session, missing):
                    self._names[user.id] = user.display_name
                    self._roles[user.id] = user.role
        # Supervisors and admins are agents to routing, but on the wallboard only while they take work.
        working = tuple(a for a in snapshot.agents if self._roles.get(int(a.id)) in users.WORKING_ROLES
                        or a.presence is Presence.AVAILABLE or any(a.load.values()))
        snapshot = replace(snapshot, agents=working)
        payload = frames.queue_stats(compute_stats(snapshot, self._engine.queues),
                                     frames.agent_rows(snapshot, self._names, self._since, today))
        for extra in self.extras:
            await extra(payload)
        return payload
