"""The supervisors' wallboard: queue and channel numbers plus one row per agent, pushed a few times a second.

Incremental: a push rebuilds only the rows of agents whose routing state, name or counts changed since the
last one (a big team's thousands of rows were rebuilt on every event before), and reads today's counts
only after an offer ended. Throttled: however many outcomes arrive, one push per PUSH_EVERY at most, the
first of a burst after PUSH_GATHER; none while nobody watches.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, tzinfo
from typing import Any, Protocol


from crm_store import routing_log, users
from crm_store.session import Sessions
from gateway import frames
from gateway.notifier import Notifier
from gateway.routing.ports import WallboardExtra
from routing.engine import RoutingEngine
from routing.events import OfferCancelled, PresenceChanged, RoutingOutcome, TaskAssigned
from routing.stats import compute_stats
from routing.types import AgentState, Presence

PUSH_EVERY = 0.5         # seconds between two pushes, at least
PUSH_GATHER = 0.1        # a burst's first outcome waits this long for the rest of it
TODAY_EVERY = 1.0        # today's offer counts are read again at most this often after an offer ended

class Cancellable(Protocol):
    def cancel(self) -> None: ...


Later = Callable[[float, Callable[[], None]], Cancellable]     # the loop's call_later, or a test's


class Wallboard:
    def __init__(self, engine: RoutingEngine, sessions: Sessions, notifier: Notifier,
                 clock: Callable[[], float], spawn: Callable[[Callable[[], Any]], None],
                 zone: tzinfo = UTC, *, later: Later | None = None) -> None:
        self._zone = zone
        self._engine = engine
        self._sessions = sessions
        self._notifier = notifier
        self._clock = clock
        self._spawn = spawn
        self._later = later          # schedules the push (tests pass their own); default the loop's call_later
        self._timer: Cancellable | None = None
        self._pending = False
        self._pushed_at = float("-inf")
        self._names: dict[int, str] = {}          # rows show people, not ids
        self._roles: dict[int, str] = {}
        self._since: dict[str, float] = {}        # when each agent's presence last changed here
        self._rows: dict[str, tuple[AgentState, dict[str, Any]]] = {}   # agent id -> the state its row shows
        self._dirty: set[str] = set()             # agents whose name or counts changed since their row was built
        self._today: dict[tuple[int, str], int] = {}
        self._today_since: datetime | None = None      # the company day the counts are of
        self._today_read_at = float("-inf")
        self._today_stale = True
        self.extras: list[WallboardExtra] = []    # e.g. calls in progress
        self.composed_rows = 0                    # rows built since start (how incremental it is, for tests)

    def changed(self, outcome: RoutingOutcome) -> None:
        """An outcome listener: note presence times and ended offers; push once the burst is over."""
        for event in outcome.events:
            if isinstance(event, PresenceChanged):
                self._since[event.agent_id] = self._clock()
                self._dirty.add(event.agent_id)
            elif isinstance(event, (OfferCancelled, TaskAssigned)):
                self._today_stale = True
        self._schedule(PUSH_GATHER)

    def _schedule(self, gather: float) -> None:
        if self._pending:
            return
        self._pending = True
        delay = max(gather, self._pushed_at + PUSH_EVERY - self._clock())
        later = self._later or asyncio.get_running_loop().call_later
        self._timer = later(delay, lambda: self._spawn(self._push))

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    async def _push(self) -> None:
        self._pending = False
        self._pushed_at = self._clock()
        if not self._notifier.queue_watched():
            # A snapshot of every waiting task 4 times a second for nobody was a fifth of the intake's CPU
            # (bench/ingest.py); a supervisor connecting gets a fresh one (Screens.on_connect).
            return
        await self._notifier.queue_stats(await self.compose())

    async def compose(self) -> dict[str, Any]:
        """Queue and channel numbers plus one row per agent, from one snapshot; only changed rows are rebuilt."""
        snapshot = await self._engine.snapshot()
        local = datetime.fromtimestamp(self._clock(), self._zone)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)   # the company's day
        missing = [int(a.id) for a in snapshot.agents if int(a.id) not in self._names]
        refresh = midnight != self._today_since or (
            self._today_stale and self._clock() - self._today_read_at >= TODAY_EVERY)
        if missing or refresh:
            async with self._sessions() as session:
                if refresh:
                    self._read_today(await routing_log.offers_today(session, midnight), midnight)
                for user in await users.users_by_id(session, missing) if missing else []:
                    self._names[user.id] = user.display_name
                    self._roles[user.id] = user.role
                    self._dirty.add(str(user.id))
        # Supervisors and admins are agents to routing, but on the wallboard only while they take work.
        working = tuple(a for a in snapshot.agents if self._roles.get(int(a.id)) in users.WORKING_ROLES
                        or a.presence is Presence.AVAILABLE or any(a.load.values()))
        snapshot = replace(snapshot, agents=working)
        payload = frames.queue_stats(compute_stats(snapshot, self._engine.queues), self._agent_rows(working))
        for extra in self.extras:
            await extra(payload)
        if self._today_stale:       # an offer ended too soon after the last read: the next push reads it
            self._schedule(self._today_read_at + TODAY_EVERY - self._clock())
        return payload

    def _read_today(self, today: dict[tuple[int, str], int], midnight: datetime) -> None:
        changed = {user for user, _ in today.keys() ^ self._today.keys()}
        changed |= {user for key, n in today.items() if self._today.get(key) != n for user in (key[0],)}
        self._dirty |= {str(user) for user in changed}
        self._today, self._today_since = today, midnight
        self._today_read_at, self._today_stale = self._clock(), False

    def _agent_rows(self, agents: tuple[AgentState, ...]) -> list[dict[str, Any]]:
        rows = []
        for state in agents:
            shown = self._rows.get(state.id)
            if shown is None or shown[0] != state or state.id in self._dirty:
                shown = state, frames.agent_row(state, self._names, self._since, self._today)
                self._rows[state.id] = shown
                self.composed_rows += 1
            rows.append(shown[1])
        self._dirty.clear()
        rows.sort(key=lambda row: (row["display_name"], row["user_id"]))
        return rows

