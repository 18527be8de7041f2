"""What a line of the work list says beyond the lead itself: its stage, its next task, its last call, whether
the client waits for an answer. One query per kind for a whole page, never one per line."""
from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_store.models import Interaction, Lead, Stage, Task, User

SYSTEM = "system"


async def lines(session: AsyncSession, found: Collection[Lead]) -> dict[int, dict[str, Any]]:
    """Per lead id: {"stage", "stage_kind", "next_task", "last_call", "waiting"}."""
    ids = [lead.id for lead in found]
    if not ids:
        return {}
    stage_ids = {lead.stage_id for lead in found if lead.stage_id is not None}
    stages = {s.id: s for s in await session.scalars(select(Stage).where(Stage.id.in_(stage_ids)))} \
        if stage_ids else {}
    next_tasks: dict[int, Task] = {}
    for task in await session.scalars(select(Task).where(Task.lead_id.in_(ids), Task.state == "open")
                                      .order_by(Task.due_at, Task.id)):
        if task.lead_id is not None:
            next_tasks.setdefault(task.lead_id, task)
    # The newest contact of each lead (the service's own notes aside): a client's message last means they wait.
    newest = select(Interaction.lead_id, func.max(Interaction.id).label("last_id")).where(
        Interaction.lead_id.in_(ids), Interaction.channel != SYSTEM).group_by(Interaction.lead_id).subquery()
    last = {i.lead_id: i for i in await session.scalars(
        select(Interaction).join(newest, Interaction.id == newest.c.last_id))}
    calls = {lead_id: item for lead_id, item in last.items() if item.channel == "voice"}
    people = {a for a in (c.attributes.get("answered_by") for c in calls.values()) if isinstance(a, int)}
    names = {uid: name for uid, name in await session.execute(
        select(User.id, User.display_name).where(User.id.in_(people)))} if people else {}
    out: dict[int, dict[str, Any]] = {}
    for lead in found:
        stage = stages.get(lead.stage_id) if lead.stage_id is not None else None
        task, item = next_tasks.get(lead.id), last.get(lead.id)
        call = calls.get(lead.id)
        out[lead.id] = {
            "stage": stage.name if stage else None, "stage_kind": stage.kind if stage else None,
            "next_task": {"id": task.id, "kind": task.kind, "origin": task.origin, "due_at": task.due_at.isoformat(),
                          "note": task.note[:120]} if task else None,
            "last_call": _call(call, names) if call is not None else None,
            "waiting": item is not None and item.direction == "inbound" and item.channel != "voice",
        }
    return out


def _call(item: Interaction, names: dict[int, str]) -> dict[str, Any]:
    a = item.attributes
    answered = a.get("answered_by")
    return {"at": item.created_at.isoformat(), "direction": item.direction, "status": a.get("status"),
            "outcome": a.get("outcome"), "talk_seconds": a.get("talk_seconds"),
            "answered_by": {"id": answered, "display_name": names.get(answered)} if isinstance(answered, int) else None,
            "callback_task": a.get("callback_task")}
