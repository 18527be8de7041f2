"""What the operator's screen receives: payloads built in one place, from routing and the store."""
from __future__ import annotations

from datetime import UTC, datetime
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_store import leads
from crm_store.errors import NotFound
from crm_store.types import Role, Viewer
from gateway.api.serialize import card_json
from gateway.mapping import lead_of_task
from routing.backends import Snapshot
from routing.stats import QueueStats
from routing.events import Decision
from routing.types import AgentState, Assignment, Offer

# Routing offers a lead to an agent; the offer itself is the permission to see its card.
ROUTING = Viewer(user_id=0, role=Role.ADMIN, team_id=None)


def at(epoch: float | None) -> str | None:
    return datetime.fromtimestamp(epoch, UTC).isoformat() if epoch is not None else None


async def card_of_task(session: AsyncSession, task_id: str) -> dict[str, Any] | None:
    lead_id = lead_of_task(task_id)
    if lead_id is None:
        return None
    try:
        return card_json(await leads.card(session, ROUTING, lead_id, timeline_limit=20))
    except NotFound:
        return None


def offer_payload(offer: Offer, card: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "offer_id": offer.id, "task_id": offer.task_id, "lead_id": lead_of_task(offer.task_id),
        "channel": offer.channel, "queue": offer.queue, "created_at": at(offer.created),
        "expires_at": at(offer.expires), "timeout_seconds": round(offer.expires - offer.created, 3),
        "card": card,
    }


def cancelled_payload(offer: Offer) -> dict[str, Any]:
    return {"offer_id": offer.id, "task_id": offer.task_id, "lead_id": lead_of_task(offer.task_id),
            "reason": offer.status.value}


def assigned_payload(assignment: Assignment, card: dict[str, Any] | None) -> dict[str, Any]:
    return {"task_id": assignment.task_id, "offer_id": assignment.offer_id,
            "lead_id": lead_of_task(assignment.task_id), "channel": assignment.channel,
            "assigned_at": at(assignment.assigned_at), "card": card}


def presence_payload(state: AgentState) -> dict[str, Any]:
    return {"user_id": int(state.id), "presence": state.presence.value, "reason": state.reason,
            "activity": state.activity, "load": dict(state.load)}


def decision_json(decision: Decision) -> dict[str, Any]:
    """Why routing chose whom: shown on the lead card."""
    return {
        "task_id": decision.task_id, "queue": decision.queue, "policy": decision.policy.value,
        "at": at(decision.at), "chosen": list(decision.chosen), "note": decision.note,
        "candidates": [{"agent_id": c.agent_id, "score": list(c.score)} for c in decision.candidates],
        "skipped": [{"agent_id": s.agent_id, "reason": s.reason.value, "detail": s.detail}
                    for s in decision.skipped],
    }


def stats_payload(stats: dict[str, QueueStats], agents: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "queues": {s.name: s.to_dict() for s in stats.values() if s.kind == "queue"},
        "channels": {s.name: s.to_dict() for s in stats.values() if s.kind == "channel"},
    }
    if agents is not None:
        payload["agents"] = agents
    return payload


def agent_rows(snapshot: Snapshot, names: Mapping[int, str], since: Mapping[str, float],
               today: Mapping[tuple[int, str], int]) -> list[dict[str, Any]]:
    """One wallboard row per agent: state and for how long, load against capacity, today's offers."""
    rows = []
    for state in sorted(snapshot.agents, key=lambda a: names.get(int(a.id), a.id)):
        user_id = int(state.id)
        rows.append({
            "user_id": user_id, "display_name": names.get(user_id, state.id),
            "presence": state.presence.value, "reason": state.reason, "activity": state.activity,
            "since": at(since.get(state.id)), "load": dict(state.load), "capacity": dict(state.agent.capacity),
            "handled_today": today.get((user_id, "accepted"), 0),
            "missed_today": sum(today.get((user_id, o), 0) for o in ("rejected", "timeout", "rescinded")),
        })
    return rows
