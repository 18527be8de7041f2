"""Switchboard chooses the phone to ring (FastAGI): the caller's owner if free, else routing's pick for the queue."""
from __future__ import annotations

from channels.asterisk.agi import RouteAnswer, RouteRequest
from channels.identity import InvalidIdentity, normalize_phone
from crm_store import calls
from crm_store.session import Sessions
from gateway.routing.ports import AgentView
from routing.policies import free_for_a_call, phone_to_ring


class VoiceChooser:
    """The RouteChooser behind `AGI(agi://…/route,queue,fallback)`; the dialplan falls back on None."""

    def __init__(self, sessions: Sessions, agents: AgentView, region: str) -> None:
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
        with_phones = [a for a in snapshot.agents if int(a.id) in extensions]
        chosen = phone_to_ring(with_phones, request.queue or "default")
        return RouteAnswer(extensions[int(chosen.id)], "routing") if chosen is not None else None

    def _phone(self, caller: str | None) -> str | None:
        if not caller:
            return None
        try:
            return normalize_phone(caller, self._region)
        except InvalidIdentity:
            return None
