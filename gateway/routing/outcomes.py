"""Routing's outcomes carried out: stored through crm_store in one transaction, then told to the screens.

A call on an operator's own phone is a task too (so routing sees them busy for voice), but it lives as
long as the call: taken at once, never shown as an offer, never stored (after a restart the voice
adapter's reconciliation adds the calls still up).
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any


from crm_store import activity, routing_log
from crm_store.task_refs import is_phone_task
from crm_store.session import Session, Sessions
from gateway import frames
from gateway.notifier import Notifier
from gateway.routing.cards import card_of_task
from routing.events import (
    Event,
    OfferCancelled,
    OfferCreated,
    PresenceChanged,
    RoutingOutcome,
    TaskAssigned,
    TaskChanged,
)
from routing.types import AgentState, Offer

Note = Callable[[], Awaitable[None]]      # a frame to send once the transaction committed
AgentLookup = Callable[[str], Awaitable[AgentState | None]]


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class OutcomeRecorder:
    def __init__(self, sessions: Sessions, notifier: Notifier, agent: AgentLookup,
                 take_phone_offer: Callable[[Offer], None], clock: Callable[[], float]) -> None:
        self._sessions = sessions
        self._notifier = notifier
        self._agent = agent
        self._take_phone_offer = take_phone_offer
        self._clock = clock

    async def record(self, outcome: RoutingOutcome, source: str = "routing") -> None:
        """Store the outcome in one transaction (with the agents' activity changes it made), then notify."""
        if not outcome.events:
            return
        explained = {d.task_id: frames.decision_json(d) for d in outcome.decisions}
        async with self._sessions() as session, session.begin():
            notes = [await self._store(session, event, explained) for event in outcome.events]
            for agent_id in _agents_touched(outcome.events):
                await self._activity(session, agent_id, source)
        for note in notes:
            if note is not None:
                await note()

    async def _store(self, session: Session, event: Event, explained: Mapping[str, Any]) -> Note | None:
        """Store what `event` changed; return the frame it warrants."""
        now = at(self._clock())
        if _is_phone(event):
            return await self._phone(event)
        notifier = self._notifier
        if isinstance(event, OfferCreated):
            offer = event.offer
            await routing_log.offer_made(session, offer.id, offer.task_id, int(offer.agent_id), at(offer.created),
                                         at(offer.expires), explained.get(offer.task_id, {}), now)
            card = await card_of_task(session, offer.task_id)
            return lambda: notifier.offer_created(offer, card)
        if isinstance(event, OfferCancelled):
            await routing_log.close_offer(session, event.offer.id, event.offer.status.value, now)
            return lambda: notifier.offer_cancelled(event.offer)
        if isinstance(event, TaskAssigned):
            a = event.assignment
            await routing_log.offer_accepted(session, a.offer_id, a.task_id, int(a.agent_id), now)
            card = await card_of_task(session, a.task_id)
            return lambda: notifier.lead_assigned(a.agent_id, a.task_id, a.offer_id, a.channel, a.assigned_at, card)
        if isinstance(event, TaskChanged):
            await routing_log.set_task_state(session, event.task_id, event.state.value, now,
                                             int(event.agent_id) if event.agent_id else None)
            return None
        if isinstance(event, PresenceChanged):
            state = await self._agent(event.agent_id)
            if state is None:
                return lambda: notifier.presence_gone(event.agent_id, event.presence, event.reason)
            return lambda: notifier.presence_changed(state)
        return None

    async def _activity(self, session: Session, agent_id: str, source: str) -> None:
        """The agent's timeline: what the screen shows as their state (on a call, wrapping up, a break and why)."""
        if not agent_id.isdigit():
            return
        state = await self._agent(agent_id)
        if state is None:
            shown, reason = "offline", None
        else:
            shown = state.activity
            reason = state.reason if shown == state.presence.value else None
        await activity.record_change(session, int(agent_id), shown, reason, source, at(self._clock()))

    async def _phone(self, event: Event) -> Note | None:
        if isinstance(event, OfferCreated):
            self._take_phone_offer(event.offer)
        elif isinstance(event, (TaskAssigned, TaskChanged)):
            # On a call / wrapping up / free: the screen shows it as the operator's activity.
            agent_id = event.assignment.agent_id if isinstance(event, TaskAssigned) else event.agent_id
            state = await self._agent(agent_id) if agent_id else None
            if state is not None:
                return lambda: self._notifier.presence_changed(state)
        return None


def _agents_touched(events: tuple[Event, ...]) -> list[str]:
    """Agents whose presence or load (a call, a wrap-up) the events changed, each once, in order."""
    seen: dict[str, None] = {}
    for event in events:
        if isinstance(event, PresenceChanged):
            seen[event.agent_id] = None
        elif isinstance(event, TaskAssigned):
            seen[event.assignment.agent_id] = None
        elif isinstance(event, TaskChanged) and event.agent_id:
            seen[event.agent_id] = None
    return list(seen)


def _is_phone(event: Event) -> bool:
    if isinstance(event, (OfferCreated, OfferCancelled)):
        return is_phone_task(event.offer.task_id)
    if isinstance(event, TaskAssigned):
        return is_phone_task(event.assignment.task_id)
    if isinstance(event, TaskChanged):
        return is_phone_task(event.task_id)
    return False
