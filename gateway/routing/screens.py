"""The operators' screens and routing: their frames (presence, accept, decline) and what a reconnect replays."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any


from crm_store.models import User
from crm_store.session import Sessions
from gateway import frames
from gateway.auth_types import Principal
from gateway.hub import FrameError, FrameHandler
from gateway.mapping import agent_of
from gateway.notifier import Notifier
from gateway.routing.cards import card_of_task
from gateway.routing.driver import EngineCall, RoutingDriver
from gateway.routing.ports import PresenceListener
from gateway.routing.wallboard import Wallboard
from gateway.work_settings import RoutingSettings
from routing.events import RoutingError, RoutingOutcome
from routing.types import Presence

PRESENCE_ALIASES = {"away": (Presence.BREAK, "away")}


class Screens:
    def __init__(self, driver: RoutingDriver, sessions: Sessions, replay: Notifier,
                 wallboard: Wallboard, settings: RoutingSettings) -> None:
        self._driver = driver
        self._engine = driver.engine
        self._sessions = sessions
        self._replay = replay            # to this process's sockets of the user who just connected
        self._wallboard = wallboard
        self._settings = settings
        self.presence_listeners: list[PresenceListener] = []   # e.g. the PBX pauses queue members on break

    def handlers(self) -> dict[str, FrameHandler]:
        return {"presence.set": self.presence_set, "offer.accept": self.offer_accept,
                "offer.decline": self.offer_decline}

    async def presence_set(self, who: Principal, data: Mapping[str, Any]) -> dict[str, Any]:
        raw, reason = str(data.get("presence", "")), data.get("reason")
        presence, default_reason = PRESENCE_ALIASES.get(raw, (None, None))
        if presence is None:
            try:
                presence = Presence(raw)
            except ValueError:
                raise FrameError("invalid", f"unknown presence {raw[:40]!r}") from None
        reason = str(reason)[:60] if isinstance(reason, str) and reason else default_reason
        await self._from_screen(self._engine.set_presence(str(who.user_id), presence, reason), "console")
        for listener in self.presence_listeners:
            self._driver.spawn(lambda listener=listener: listener(who.user_id, presence, reason))
        return {"presence": presence.value, "reason": reason}

    async def offer_accept(self, who: Principal, data: Mapping[str, Any]) -> dict[str, Any]:
        outcome = await self._from_screen(self._engine.accept(_offer_id(data), str(who.user_id)))
        assignment = outcome.assignment
        return {"offer_id": _offer_id(data), "lead_id": frames.lead_of(assignment.task_id) if assignment else None}

    async def offer_decline(self, who: Principal, data: Mapping[str, Any]) -> dict[str, Any]:
        await self._from_screen(self._engine.decline(_offer_id(data), str(who.user_id)))
        return {"offer_id": _offer_id(data)}

    async def _from_screen(self, call: EngineCall, source: str = "routing") -> RoutingOutcome:
        """An engine call a screen asked for: a refusal becomes an `error` frame, not a crash."""
        try:
            return await self._driver.run(call, source)
        except RoutingError as exc:
            raise FrameError("routing", str(exc)) from exc

    async def on_connect(self, who: Principal) -> None:
        """A (re)connecting screen gets its presence, its pending offers and its work at once."""
        agent_id = str(who.user_id)
        async with self._sessions() as session:
            user = await session.get(User, who.user_id)
        if user is not None:
            # Users added or changed while we run (CLI, another node) are known from their first connect.
            await self._driver.run(self._engine.upsert_agent(agent_of(user, self._settings)))
        state = await self._driver.agent(who.user_id)
        if state is not None:
            await self._replay.presence_changed(state)
        offers = await self._engine.offers_for(agent_id)
        held = await self._engine.assignments_for(agent_id)
        cards = await self._cards([offer.task_id for offer in offers] + [record.id for record in held])
        for offer in offers:
            await self._replay.offer_created(offer, cards[offer.task_id])
        for record in held:
            await self._replay.lead_assigned(agent_id, record.id, None, record.task.channel, record.assigned_at,
                                             cards[record.id])
        if self._replay.watches_queues(who.role.value):
            await self._replay.queue_stats_to(who.user_id, who.role.value, await self._wallboard.compose())

    async def resync(self, users: set[int]) -> None:
        """Frames from other processes may have been lost (the fan-out was down): each screen here gets
        its presence and pending offers again (what it needs to keep taking work; an offer it has
        already is shown once, its id is the same)."""
        for user_id in sorted(users):
            state = await self._driver.agent(user_id)
            if state is not None:
                await self._replay.presence_changed(state)
            offers = await self._engine.offers_for(str(user_id))
            cards = await self._cards([offer.task_id for offer in offers])
            for offer in offers:
                await self._replay.offer_created(offer, cards[offer.task_id])

    async def _cards(self, task_ids: list[str]) -> dict[str, Any]:
        """The cards of these tasks, read on one connection that is given back before any frame is sent: held
        across Redis calls and socket writes, a crowd of screens reconnecting together (a restart) each kept a
        pooled connection while its socket drained, and the pool ran dry for everyone else."""
        if not task_ids:
            return {}
        async with self._sessions() as session:
            return {task_id: await card_of_task(session, task_id) for task_id in dict.fromkeys(task_ids)}

    async def on_gone(self, who: Principal) -> None:
        """The screen stayed away past the grace period: stop offering, give back pending offers."""
        await self._driver.run(self._engine.set_presence(str(who.user_id), Presence.BREAK, "disconnected"), "console")


def _offer_id(data: Mapping[str, Any]) -> str:
    offer_id = data.get("offer_id")
    if not isinstance(offer_id, str) or not offer_id:
        raise FrameError("invalid", "offer_id is required")
    return offer_id
