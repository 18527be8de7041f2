"""Switchboard chooses the phone to ring (FastAGI): the caller's owner if free, else routing's pick for the queue."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.asterisk.agi import RouteAnswer, RouteRequest
from channels.identity import InvalidIdentity, normalize_phone
from crm_store import calls
from gateway.routing.ports import AgentView
from routing.types import VOICE, AgentState, Presence


def free_for_a_call(state: AgentState | None) -> bool:
    return (state is not None and state.presence is Presence.AVAILABLE and state.load.get(VOICE, 0) == 0
            and not state.wrapping and state.agent.capacity.get(VOICE, 0) > 0)


class VoiceChooser:
    """The RouteChooser behind `AGI(agi://…/route,queue,fallback)`; the dialplan falls back on None."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], agents: AgentView, region: str) -> None:
        self._sessions = sessions
        self._agents = agents
        self._region = region

    async def choose(self, request: RouteRequest) -> RouteAnswer | None:
        phone = self._phone(request.caller)
        async with self._sessions() as session:
            owner = await calls.owner_of_phone(session, phone) if phone else None
            extensions = await calls.users_with_extensions(session)
        if owner is not None and owner.extension:
            state = await self._agents.agent(owner.id)
            if free_for_a_call(state):
                return RouteAnswer(owner.extension, "owner")
        snapshot = await self._agents.snapshot()
        queue = request.queue or "default"
        free = [a for a in snapshot.agents if int(a.id) in extensions and free_for_a_call(a)
                and (not a.agent.queues or queue in a.agent.queues)]
        if not free:
            return None
        # Longest idle first, as the default queue policy does for every other channel.
        chosen = min(free, key=lambda a: (a.last_busy, a.id))
        return RouteAnswer(extensions[int(chosen.id)], "routing")

    def _phone(self, caller: str | None) -> str | None:
        if not caller:
            return None
        try:
            return normalize_phone(caller, self._region)
        except InvalidIdentity:
            return None
