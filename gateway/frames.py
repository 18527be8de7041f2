"""Every server -> client frame's payload, shaped here once; who receives it is `gateway.notifier`'s decision.

Pure: values in, dicts out. Reads (a lead's card) happen before, in the code that has a session.
"""
from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from datetime import UTC, datetime
from typing import Any

from channels.asterisk.types import CallEnded
from channels.types import InboundContact
from crm_store.task_refs import lead_of_task
from gateway.voice.live import LiveCall
from gateway.wire_json import iso
from routing.events import Decision
from routing.stats import QueueStats
from routing.types import AgentState, Offer, Presence

Card = dict[str, Any] | None

# Every server -> client frame type, named once (the console's names: operator_ui/static/js/frames.js).
OFFER_CREATED = "offer.created"
OFFER_CANCELLED = "offer.cancelled"
LEAD_ASSIGNED = "lead.assigned"
LEAD_UPDATED = "lead.updated"
LEAD_MOVED = "lead.moved"
PRESENCE_CHANGED = "presence.changed"
QUEUE_STATS = "queue.stats"
MESSAGE_RECEIVED = "message.received"
CALL_RINGING = "call.ringing"
CALL_CARD = "call.card"
CALL_RING_STOPPED = "call.ring_stopped"
CALL_ANSWERED = "call.answered"
CALL_TRANSFERRED = "call.transferred"
CALL_ENDED = "call.ended"
TASK_DUE = "task.due"
SERVER_FRAMES = frozenset({
    OFFER_CREATED, OFFER_CANCELLED, LEAD_ASSIGNED, LEAD_UPDATED, LEAD_MOVED, PRESENCE_CHANGED, QUEUE_STATS,
    MESSAGE_RECEIVED, CALL_RINGING, CALL_CARD, CALL_RING_STOPPED, CALL_ANSWERED, CALL_TRANSFERRED, CALL_ENDED, TASK_DUE,
})


# A task's lead, remembered: a routed lead's task id is read five times (its offer, accept, assignment and
# their frames), each parse building a frozen dataclass (~1 us). A pure function of the id.
lead_of = lru_cache(maxsize=4096)(lead_of_task)


def at(epoch: float | None) -> str | None:
    return iso(datetime.fromtimestamp(epoch, UTC)) if epoch is not None else None


# -- routing ----------------------------------------------------------------------------------------

def offer_created(offer: Offer, card: Card) -> dict[str, Any]:
    return {
        "offer_id": offer.id, "task_id": offer.task_id, "lead_id": lead_of(offer.task_id),
        "channel": offer.channel, "queue": offer.queue, "created_at": at(offer.created),
        "expires_at": at(offer.expires), "timeout_seconds": round(offer.expires - offer.created, 3),
        "card": card,
    }


def offer_cancelled(offer: Offer) -> dict[str, Any]:
    return {"offer_id": offer.id, "task_id": offer.task_id, "lead_id": lead_of(offer.task_id),
            "reason": offer.status.value}


def lead_assigned(task_id: str, offer_id: str | None, channel: str, assigned_at: float | None,
                  card: Card) -> dict[str, Any]:
    """Sent when an offer is accepted, and again to a reconnecting screen (then without the offer it came from)."""
    return {"task_id": task_id, "offer_id": offer_id, "lead_id": lead_of(task_id), "channel": channel,
            "assigned_at": at(assigned_at), "card": card}


def presence_changed(user_id: int, presence: Presence, reason: str | None, activity: str | None = None,
                     load: Mapping[str, int] | None = None) -> dict[str, Any]:
    return {"user_id": user_id, "presence": presence.value, "reason": reason, "activity": activity,
            "load": dict(load or {})}


def presence_of(state: AgentState) -> dict[str, Any]:
    return presence_changed(int(state.id), state.presence, state.reason, state.activity, state.load)


def decision_json(decision: Decision) -> dict[str, Any]:
    """Why routing chose whom: shown on the lead card."""
    return {
        "task_id": decision.task_id, "queue": decision.queue, "policy": decision.policy.value,
        "at": at(decision.at), "chosen": list(decision.chosen), "note": decision.note, "round": decision.round,
        "candidates": [{"agent_id": c.agent_id, "score": list(c.score)} for c in decision.candidates],
        "skipped": [{"agent_id": s.agent_id, "reason": s.reason.value, "detail": s.detail}
                    for s in decision.skipped],
    }


# -- the wallboard ----------------------------------------------------------------------------------

def queue_stats(stats: dict[str, QueueStats], agents: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "queues": {s.name: s.to_dict() for s in stats.values() if s.kind == "queue"},
        "channels": {s.name: s.to_dict() for s in stats.values() if s.kind == "channel"},
    }
    for queue in payload["queues"].values():
        levels: dict[str, int] = {}
        for priority, count in (queue.get("waiting_by_priority") or {}).items():
            level = priority_level(int(priority))
            levels[level] = levels.get(level, 0) + count
        queue["waiting_by_level"] = levels
    if agents is not None:
        payload["agents"] = agents
    return payload


def priority_level(priority: int) -> str:
    """A task priority in words for the wallboard (the console labels these keys in each language)."""
    return "urgent" if priority >= 50 else "high" if priority >= 10 else "raised" if priority > 0 else \
        "normal" if priority == 0 else "low"


def shown_state(presence: str, reason: str | None, activity: str, talking: bool | None) -> str:
    """One state per agent that presence and activity never contradict.

    `talking`: the PBX says they hold a call (True), holds none (False), or voice is off (None). A call the
    PBX knows of wins over any presence (on a call is never "offline"); routing's voice load without a call
    the PBX knows, for an agent offline or whose screen is gone, is stale: such an agent is not "talking"."""
    if talking:
        return "on_call"
    if activity == "on_call" and (talking is False or presence == "offline" or reason == "disconnected"):
        return presence
    return activity


def agent_row(state: AgentState, names: Mapping[int, str], since: Mapping[str, float],
              today: Mapping[tuple[int, str], int]) -> dict[str, Any]:
    """An agent's wallboard row: state and for how long, load against capacity, today's offers."""
    user_id = int(state.id)
    return {
        "user_id": user_id, "display_name": names.get(user_id, state.id),
        "presence": state.presence.value, "reason": state.reason, "activity": state.activity,
        "state": shown_state(state.presence.value, state.reason, state.activity, None),
        "since": at(since.get(state.id)), "load": dict(state.load), "capacity": dict(state.agent.capacity),
        "handled_today": today.get((user_id, "accepted"), 0),
        "missed_today": sum(today.get((user_id, o), 0) for o in ("rejected", "timeout", "rescinded")),
    }


def agent_call(call: LiveCall | None) -> dict[str, Any] | None:
    """The wallboard row's call in progress."""
    if call is None:
        return None
    s = call.started
    return {"caller": s.caller, "caller_name": s.caller_name, "queue": s.queue, "direction": s.direction.value,
            "lead_id": call.lead_id, "talking_since": call.answered_at.isoformat() if call.answered_at else None}


# -- leads ------------------------------------------------------------------------------------------

def import_progress(import_id: int, state: str, rows: int | None, done: int, counts: Mapping[str, int],
                    per_second: float, eta_seconds: float | None) -> dict[str, Any]:
    return {"import_id": import_id, "state": state, "rows": rows, "done": done, "counts": dict(counts),
            "per_second": round(per_second, 1), "eta_seconds": round(eta_seconds) if eta_seconds is not None else None}


def lead_updated(lead_id: int, changes: Mapping[str, Any]) -> dict[str, Any]:
    return {"lead_id": lead_id, "changes": dict(changes)}


def lead_moved(lead_id: int, pipeline_id: int | None, from_stage_id: int | None, to_stage_id: int | None,
               changed_by: int) -> dict[str, Any]:
    """Ids only: each board reads the lead again, within what its user may see."""
    return {"lead_id": lead_id, "pipeline_id": pipeline_id, "from_stage_id": from_stage_id,
            "to_stage_id": to_stage_id, "changed_by": changed_by}


def message_received(lead_id: int, interaction_id: int | None, contact: InboundContact) -> dict[str, Any]:
    return {"lead_id": lead_id, "interaction_id": interaction_id, "channel": contact.channel, "text": contact.text,
            "subject": contact.subject, "at": contact.received_at.isoformat()}


# -- calls ------------------------------------------------------------------------------------------

def call_ringing(call: LiveCall, extension: str, card: Card) -> dict[str, Any]:
    s = call.started
    return {"call_id": call.call_id, "lead_id": call.lead_id, "direction": s.direction.value,
            "caller": s.caller, "caller_name": s.caller_name, "queue": s.queue, "did": s.did,
            "extension": extension, "transfer_from": call.transfer_from.get(extension),
            "started_at": s.at.isoformat(), "card": card}


def call_card(call: LiveCall, card: Card) -> dict[str, Any]:
    """The card a pop went out without (not in memory, not read within the pop's budget), the moment it is read."""
    return {"call_id": call.call_id, "lead_id": call.lead_id, "card": card}


def call_ring_stopped(call: LiveCall, reason: str) -> dict[str, Any]:
    return {"call_id": call.call_id, "lead_id": call.lead_id, "reason": reason}


def call_answered(call: LiveCall, extension: str | None) -> dict[str, Any]:
    return {"call_id": call.call_id, "lead_id": call.lead_id, "extension": extension}


def call_transferred(call: LiveCall, to_extension: str, kind: str) -> dict[str, Any]:
    return {"call_id": call.call_id, "lead_id": call.lead_id, "to_extension": to_extension, "kind": kind}


def call_ended(call: LiveCall, event: CallEnded, missed: bool, callback_task: str | None) -> dict[str, Any]:
    return {"call_id": call.call_id, "lead_id": call.lead_id, "outcome": event.outcome.value,
            "talk_seconds": event.talk_seconds, "wait_seconds": event.wait_seconds, "missed": missed,
            "recording": event.recording, "callback_task": callback_task}


def call_not_connected(event: CallEnded) -> dict[str, Any]:
    """A click-to-call that never reached the operator's phone: `call.ended`, with why."""
    return {"call_id": event.call_id, "lead_id": None, "outcome": event.outcome.value,
            "reason": event.cause_text, "talk_seconds": 0, "missed": False}


# -- tasks ------------------------------------------------------------------------------------------

def task_due(task_id: int, kind: str, due_at: datetime, note: str, lead_id: int | None, contact_id: int,
             client_name: str | None, link: str) -> dict[str, Any]:
    """A reminder: the task is due now."""
    return {"task_id": task_id, "kind": kind, "due_at": due_at.isoformat(), "note": note, "lead_id": lead_id,
            "contact_id": contact_id, "client_name": client_name, "link": link}
