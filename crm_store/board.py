"""The kanban board: one column per stage, each with its first page of leads and its totals."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_store.leads import visible
from crm_store.models import Contact, Lead, Stage, Task, User
from crm_store.pipelines import funnel
from crm_store.types import Viewer


@dataclass(frozen=True, slots=True)
class BoardFilter:
    pipeline_id: int
    owner_id: int | None = None
    team_id: int | None = None
    source: str | None = None          # the channel that opened the lead
    stage_id: int | None = None        # one column only (its next page)
    limit: int = 20
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Column:
    stage: Stage
    count: int
    amounts: dict[str, int]            # currency -> total in minor units
    leads: list[Lead]


@dataclass(frozen=True, slots=True)
class Board:
    columns: list[Column]
    names: dict[int, str | None] = field(default_factory=dict)      # contact id -> name
    people: dict[int, str] = field(default_factory=dict)            # user id -> display name
    next_tasks: dict[int, Task] = field(default_factory=dict)       # lead id -> its open task due first


def _where(viewer: Viewer, f: BoardFilter) -> list[ColumnElement[bool]]:
    where = [Lead.pipeline_id == f.pipeline_id, Lead.deleted_at.is_(None), visible(viewer)]
    if f.owner_id is not None:
        where.append(Lead.assignee_id == f.owner_id)
    if f.team_id is not None:
        where.append(Lead.team_id == f.team_id)
    if f.source:
        where.append(Lead.channel == f.source)
    return where


async def board(session: AsyncSession, viewer: Viewer, f: BoardFilter) -> Board:
    """Each live stage's count and amounts, and its page of leads, most recent activity first."""
    found = await funnel(session, f.pipeline_id, retired=False)
    stages = [s for s in found.stages if f.stage_id in (None, s.id)]
    where = _where(viewer, f)
    counts: dict[int, int] = {}
    amounts: dict[int, dict[str, int]] = {}
    for stage_id, currency, n, total in await session.execute(
            select(Lead.stage_id, Lead.currency, func.count(), func.sum(Lead.amount))
            .where(*where).group_by(Lead.stage_id, Lead.currency)):
        counts[stage_id] = counts.get(stage_id, 0) + n
        if total is not None:
            amounts.setdefault(stage_id, {})[currency or ""] = int(total)
    columns = []
    for stage in stages:
        page = list(await session.scalars(select(Lead).where(*where, Lead.stage_id == stage.id)
                                          .order_by(Lead.last_activity_at.desc(), Lead.id.desc())
                                          .limit(f.limit).offset(f.offset)))
        columns.append(Column(stage, counts.get(stage.id, 0), amounts.get(stage.id, {}), page))
    shown = [lead for c in columns for lead in c.leads]
    contact_ids = {x.contact_id for x in shown}
    user_ids = {x.assignee_id for x in shown if x.assignee_id is not None}
    names: dict[int, Any] = dict((await session.execute(select(Contact.id, Contact.display_name)
                                                         .where(Contact.id.in_(contact_ids)))).all()) \
        if contact_ids else {}
    people: dict[int, Any] = dict((await session.execute(select(User.id, User.display_name)
                                                          .where(User.id.in_(user_ids)))).all()) if user_ids else {}
    next_tasks: dict[int, Task] = {}
    if shown:
        for task in await session.scalars(select(Task).where(Task.lead_id.in_([x.id for x in shown]),
                                                             Task.state == "open").order_by(Task.due_at.desc())):
            next_tasks[task.lead_id] = task      # the last written is the one due first
    return Board(columns, names, people, next_tasks)
