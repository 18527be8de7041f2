"""Who receives which frame: one method per server -> client frame type, payloads from `gateway.frames`.

The hub and the fan-out only deliver; the code that knows something happened says what, here says to whom.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from channels.asterisk.types import CallEnded
from channels.types import InboundContact
from gateway import frames
from gateway.fanout import Fanout
from gateway.voice.live import LiveCall
from routing.types import AgentState, Offer, Presence

# Supervisors see the wallboard; managers see their own work only.
WATCHER_ROLES = frozenset({"manager", "supervisor", "admin"})
BOARD_ROLES = frozenset({"operator", "manager", "supervisor", "admin"})


class Notifier:
    def __init__(self, fanout: Fanout) -> None:
        self._fanout = fanout

    # -- sessions ---------------------------------------------------------------------------------
    async def session_ended(self, user_id: int, session: str | None, reason: str) -> None:
        """Signed out (one session, by token digest) or disabled (`session` None: all): their sockets close."""
        await self._fanout.disconnect(user_id, session, reason)

    # -- imports ----------------------------------------------------------------------------------
    async def import_progress(self, user_id: int, payload: Mapping[str, Any]) -> None:
        """Only the user who started the import."""
        await self._to({user_id}, "import.progress", payload)

    # -- routing ----------------------------------------------------------------------------------
    async def offer_created(self, offer: Offer, card: frames.Card) -> None:
        """Only the agent the offer reserves the task for."""
        await self._to({int(offer.agent_id)}, frames.OFFER_CREATED, frames.offer_created(offer, card))

    async def offer_cancelled(self, offer: Offer) -> None:
        await self._to({int(offer.agent_id)}, frames.OFFER_CANCELLED, frames.offer_cancelled(offer))

    async def lead_assigned(self, agent_id: str, task_id: str, offer_id: str | None, channel: str,
                            assigned_at: float | None, card: frames.Card) -> None:
        await self._to({int(agent_id)}, frames.LEAD_ASSIGNED,
                       frames.lead_assigned(task_id, offer_id, channel, assigned_at, card))

    async def presence_changed(self, state: AgentState) -> None:
        """The agent's own screens (presence is shown to others on the wallboard)."""
        await self._to({int(state.id)}, frames.PRESENCE_CHANGED, frames.presence_of(state))

    async def presence_gone(self, agent_id: str, presence: Presence, reason: str | None) -> None:
        """A presence change of an agent routing no longer holds (removed meanwhile by another process)."""
        await self._to({int(agent_id)}, frames.PRESENCE_CHANGED, frames.presence_changed(int(agent_id), presence, reason))

    def queue_watched(self) -> bool:
        """Someone may be looking at the wallboard: composing it is not wasted."""
        return self._fanout.may_reach(WATCHER_ROLES)

    async def queue_stats(self, payload: Mapping[str, Any]) -> None:
        await self._fanout.to_roles(WATCHER_ROLES, frames.QUEUE_STATS, payload)

    async def queue_stats_to(self, user_id: int, role: str, payload: Mapping[str, Any]) -> None:
        if self.watches_queues(role):
            await self._to({user_id}, frames.QUEUE_STATS, payload)

    @staticmethod
    def watches_queues(role: str) -> bool:
        return role in WATCHER_ROLES

    # -- leads ------------------------------------------------------------------------------------
    async def lead_updated(self, lead_id: int, changes: Mapping[str, Any], *, assignee_id: int | None,
                           owner_id: int | None, changed_by: int) -> None:
        """The lead's assignee and the client's owner, not whoever made the change."""
        watchers = {i for i in (assignee_id, owner_id) if i is not None} - {changed_by}
        if watchers and changes:
            await self._to(watchers, frames.LEAD_UPDATED, frames.lead_updated(lead_id, changes))

    async def lead_moved(self, lead_id: int, pipeline_id: int | None, from_stage_id: int | None,
                         to_stage_id: int | None, *, changed_by: int) -> None:
        """Every open board: the frame names ids only, the board re-reads what it may see. Consoles never read it
        (sent to every signed-in screen it was 50 frames a close with 50 operators: ~0.45 ms of a lead's CPU)."""
        await self._fanout.to_watchers("board", BOARD_ROLES, frames.LEAD_MOVED,
                                       frames.lead_moved(lead_id, pipeline_id, from_stage_id, to_stage_id, changed_by))

    async def message_received(self, assignee_id: int, lead_id: int, interaction_id: int | None,
                               contact: InboundContact) -> None:
        """A client wrote on a lead somebody already works: only that somebody."""
        await self._to({assignee_id}, frames.MESSAGE_RECEIVED, frames.message_received(lead_id, interaction_id, contact))

    # -- calls ------------------------------------------------------------------------------------
    async def call_ringing(self, user_id: int, call: LiveCall, extension: str, card: frames.Card) -> None:
        """The user sitting at the phone that rings, and nobody else."""
        await self._to({user_id}, frames.CALL_RINGING, frames.call_ringing(call, extension, card))

    async def call_card(self, user_ids: Iterable[int], call: LiveCall, card: frames.Card) -> None:
        """The phones that popped without the card (ringing or answered there still)."""
        await self._to(set(user_ids), frames.CALL_CARD, frames.call_card(call, card))

    async def call_ring_stopped(self, user_ids: Iterable[int], call: LiveCall, reason: str) -> None:
        await self._to(set(user_ids), frames.CALL_RING_STOPPED, frames.call_ring_stopped(call, reason))

    async def call_answered(self, user_id: int, call: LiveCall, extension: str | None) -> None:
        await self._to({user_id}, frames.CALL_ANSWERED, frames.call_answered(call, extension))

    async def call_transferred(self, call: LiveCall, to_extension: str, kind: str) -> None:
        """The operator who had the call."""
        if call.answered_by is not None:
            await self._to({call.answered_by}, frames.CALL_TRANSFERRED, frames.call_transferred(call, to_extension, kind))

    async def call_ended(self, user_ids: Iterable[int], call: LiveCall, event: CallEnded, missed: bool,
                         callback_task: str | None) -> None:
        """The users at the phones the call still belonged to (a transfer told the others when it left them)."""
        await self._to(set(user_ids), frames.CALL_ENDED, frames.call_ended(call, event, missed, callback_task))

    async def call_not_connected(self, user_id: int, event: CallEnded) -> None:
        """The operator who placed a click-to-call that never reached their phone."""
        await self._to({user_id}, frames.CALL_ENDED, frames.call_not_connected(event))

    # -- tasks ------------------------------------------------------------------------------------
    async def task_due(self, user_id: int, payload: Mapping[str, Any]) -> None:
        """The task's assignee, on every screen they have open."""
        await self._to({user_id}, frames.TASK_DUE, payload)

    async def tasks_due(self, reminders: Iterable[tuple[int, Mapping[str, Any]]]) -> None:
        """Reminders falling due together, each to its assignee's screens: one fan-out for the burst."""
        await self._fanout.to_users_each([({user_id}, "task.due", payload) for user_id, payload in reminders])

    async def _to(self, user_ids: set[int], kind: str, data: Mapping[str, Any]) -> None:
        if user_ids:
            await self._fanout.to_users(user_ids, kind, data)
