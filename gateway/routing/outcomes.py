"""Routing's outcomes carried out: written in the intake's next group commit, then told to the screens.

A call on an operator's own phone is a task too (so routing sees them busy for voice), but it lives as
long as the call: taken at once, never shown as an offer, never stored (after a restart the voice
adapter's reconciliation adds the calls still up).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from crm_store.leads import Card
from crm_store.routing_batch import (
    ActivityChanged,
    Change,
    OfferAccepted,
    OfferClosed,
    OfferMade,
    RoutingChanges,
    TaskStateChanged,
)
from crm_store.task_refs import is_phone_task
from gateway import frames
from gateway.api.serialize import card_json
from gateway.notifier import Notifier
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

Note = Callable[[Mapping[int, dict[str, Any] | None]], Awaitable[None]]   # a frame, given the cards read
AgentLookup = Callable[[str], Awaitable[AgentState | None]]
RETRIES = 12            # a write the store refused for a moment is tried again, ~30 s in all
log = logging.getLogger(__name__)


class RoutingStore(Protocol):
    """Where outcomes are written: the intake's group-committing writer (`crm_store.ingest.Ingestor`)."""

    async def record_routing(self, changes: RoutingChanges) -> Mapping[int, Card]: ...


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


@dataclass(frozen=True, slots=True)
class Prepared:
    """An outcome turned into rows to write and the frames to send once they are committed."""

    changes: RoutingChanges
    notes: tuple[Note, ...]


class OutcomeRecorder:
    def __init__(self, store: RoutingStore, notifier: Notifier, agent: AgentLookup,
                 take_phone_offer: Callable[[Offer], None], clock: Callable[[], float]) -> None:
        self._store = store
        self._notifier = notifier
        self._agent = agent
        self._take_phone_offer = take_phone_offer
        self._clock = clock

    async def record(self, outcome: RoutingOutcome, source: str = "routing") -> None:
        """Store the outcome (with the agents' activity changes it made), then notify."""
        prepared = await self.prepare(outcome, source)
        if prepared is not None:
            await self.commit(prepared)

    async def prepare(self, outcome: RoutingOutcome, source: str = "routing") -> Prepared | None:
        """What to write and tell for `outcome`; the driver prepares under its lock, so writes queue in order."""
        if not outcome.events:
            return None
        explained = {d.task_id: frames.decision_json(d) for d in outcome.decisions}
        changes: list[Change] = []
        cards: list[int] = []
        notes = [await self._store_event(event, explained, changes, cards) for event in outcome.events]
        for agent_id in _agents_touched(outcome.events):
            await self._activity(agent_id, source, changes)
        now = at(self._clock())
        return Prepared(RoutingChanges(now, tuple(changes), tuple(cards)), tuple(n for n in notes if n is not None))

    async def commit(self, prepared: Prepared) -> None:
        """Write (retried while the store refuses: an offer not recorded would be lost to both sides), then tell."""
        found: Mapping[int, Card] = {}
        if prepared.changes.changes or prepared.changes.cards:
            for attempt in range(RETRIES):
                try:
                    found = await self._store.record_routing(prepared.changes)
                    break
                except Exception as exc:
                    if attempt == RETRIES - 1:
                        log.error("routing outcome not recorded after %d tries, frames dropped: %r", RETRIES, exc)
                        return
                    log.warning("routing outcome not recorded (%r), trying again", exc)
                    await asyncio.sleep(min(0.1 * 2 ** attempt, 5.0))
        cards = {lead_id: card_json(card) for lead_id, card in found.items()}
        for note in prepared.notes:
            await note(cards)

    async def _store_event(self, event: Event, explained: Mapping[str, Any], changes: list[Change],
                           cards: list[int]) -> Note | None:
        """Add what `event` changed to `changes`; return the frame it warrants."""
        if _is_phone(event):
            return await self._phone(event)
        notifier = self._notifier
        if isinstance(event, OfferCreated):
            offer = event.offer
            changes.append(OfferMade(offer.id, offer.task_id, int(offer.agent_id), at(offer.created),
                                     at(offer.expires), explained.get(offer.task_id, {})))
            lead_id = _wants_card(offer.task_id, cards)
            return lambda found: notifier.offer_created(offer, found.get(lead_id) if lead_id else None)
        if isinstance(event, OfferCancelled):
            changes.append(OfferClosed(event.offer.id, event.offer.status.value))
            return lambda found: notifier.offer_cancelled(event.offer)
        if isinstance(event, TaskAssigned):
            a = event.assignment
            changes.append(OfferAccepted(a.offer_id, a.task_id, int(a.agent_id)))
            lead_id = _wants_card(a.task_id, cards)
            return lambda found: notifier.lead_assigned(a.agent_id, a.task_id, a.offer_id, a.channel, a.assigned_at,
                                                        found.get(lead_id) if lead_id else None)
        if isinstance(event, TaskChanged):
            changes.append(TaskStateChanged(event.task_id, event.state.value,
                                            int(event.agent_id) if event.agent_id else None))
            return None
        if isinstance(event, PresenceChanged):
            state = await self._lookup(event.agent_id)
            if state is None:
                return lambda found: notifier.presence_gone(event.agent_id, event.presence, event.reason)
            return lambda found: notifier.presence_changed(state)
        return None

    async def _lookup(self, agent_id: str) -> AgentState | None:
        """The agent as routing holds it now; None when routing cannot say (Redis down: the rest is still kept)."""
        try:
            return await self._agent(agent_id)
        except Exception as exc:
            log.warning("agent %s unreadable while recording an outcome: %r", agent_id, exc)
            return None

    async def _activity(self, agent_id: str, source: str, changes: list[Change]) -> None:
        """The agent's timeline: what the screen shows as their state (on a call, wrapping up, a break and why)."""
        if not agent_id.isdigit():
            return
        try:
            state = await self._agent(agent_id)
        except Exception as exc:     # routing unreachable: the timeline misses a step, the outcome is kept
            log.warning("activity of agent %s not recorded: %r", agent_id, exc)
            return
        if state is None:
            shown, reason = "offline", None
        else:
            shown = state.activity
            reason = state.reason if shown == state.presence.value else None
        changes.append(ActivityChanged(int(agent_id), shown, reason, source))

    async def _phone(self, event: Event) -> Note | None:
        if isinstance(event, OfferCreated):
            self._take_phone_offer(event.offer)
        elif isinstance(event, (TaskAssigned, TaskChanged)):
            # On a call / wrapping up / free: the screen shows it as the operator's activity.
            agent_id = event.assignment.agent_id if isinstance(event, TaskAssigned) else event.agent_id
            state = await self._lookup(agent_id) if agent_id else None
            if state is not None:
                return lambda found: self._notifier.presence_changed(state)
        return None


def _wants_card(task_id: str, cards: list[int]) -> int | None:
    lead_id = frames.lead_of(task_id)
    if lead_id is not None:
        cards.append(lead_id)
    return lead_id


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
