"""Rows for downloads, read in keyset pages (by id) so any number of them streams in constant memory."""
from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crm_store.leads import visible
from crm_store.models import AuditEntry, Contact, Lead, Reservation, RoutingTask, User
from crm_store.types import Viewer

PAGE = 2000

LEAD_COLUMNS = (
    "lead_id", "created_at", "client", "channel", "source", "status", "outcome", "lost_reason", "owner", "assignee",
    "team_id", "priority", "closed_at", "first_task_at", "assigned_at", "sla_deadline", "sla_met", "offers",
    "routed_to", "routing_policy", "routing_why",
)


def _source_text(source: dict[str, Any] | None) -> str:
    return "; ".join(f"{k}={v}" for k, v in sorted((source or {}).items()) if v not in (None, ""))


def _why(explanation: dict[str, Any] | None) -> tuple[str, str]:
    """The routing explanation in words: the policy, then the candidates and why others were skipped."""
    if not explanation:
        return "", ""
    skipped: dict[str, list[str]] = {}
    for s in explanation.get("skipped") or ():
        skipped.setdefault(str(s.get("reason")), []).append(str(s.get("agent_id")))
    parts = [f"chosen {','.join(map(str, explanation.get('chosen') or ())) or '-'} of "
             f"{len(explanation.get('candidates') or ())} candidates"]
    parts += [f"{reason}: {','.join(agents)}" for reason, agents in sorted(skipped.items())]
    if explanation.get("note"):
        parts.append(str(explanation["note"]))
    if int(explanation.get("round") or 1) > 1:     # offered again after everyone declined or missed it
        parts.append(f"round {explanation['round']}")
    return str(explanation.get("policy") or ""), "; ".join(parts)


async def lead_rows(session: AsyncSession, viewer: Viewer, since: datetime, until: datetime,
                    page: int = PAGE) -> AsyncIterator[Sequence[Sequence[Any]]]:
    """One row per lead created in [since, until) that `viewer` sees: source, stage, people, SLA facts and why
    routing chose whom (the lead's first task and its accepted offer), page by page."""
    owner, assignee = aliased(User), aliased(User)
    after = 0
    while True:
        leads = (await session.execute(
            select(Lead.id, Lead.created_at, Contact.display_name, Lead.channel, Lead.source, Lead.status,
                   Lead.outcome, Lead.lost_reason, owner.display_name, assignee.display_name, Lead.team_id,
                   Lead.priority, Lead.closed_at)
            .join(Contact, Contact.id == Lead.contact_id)
            .outerjoin(owner, owner.id == Lead.owner_id).outerjoin(assignee, assignee.id == Lead.assignee_id)
            .where(Lead.id > after, Lead.created_at >= since, Lead.created_at < until, Lead.deleted_at.is_(None),
                   visible(viewer))
            .order_by(Lead.id).limit(page))).all()
        if not leads:
            return
        ids = [row[0] for row in leads]
        first = await _first_tasks(session, ids)
        rows = []
        for lead in leads:
            task = first.get(lead[0])
            created, assigned, deadline, offers, agent, explanation = task or (None,) * 6
            met = (assigned <= deadline) if assigned and deadline else None
            policy, why = _why(explanation)
            rows.append((*lead[:4], _source_text(lead[4]), *lead[5:], created, assigned, deadline, met, offers,
                         agent, policy, why))
        yield rows
        after = ids[-1]


async def _first_tasks(session: AsyncSession, lead_ids: list[int]) -> dict[int, tuple[Any, ...]]:
    """Per lead: its first task's times, how many offers it took, who took it and routing's explanation."""
    first = (select(RoutingTask.lead_id, func.min(RoutingTask.created_at).label("at"))
             .where(RoutingTask.lead_id.in_(lead_ids)).group_by(RoutingTask.lead_id).subquery())
    tasks = (await session.execute(
        select(RoutingTask.lead_id, RoutingTask.id, RoutingTask.created_at, RoutingTask.assigned_at,
               RoutingTask.sla_deadline)
        .join(first, and_(first.c.lead_id == RoutingTask.lead_id, first.c.at == RoutingTask.created_at)))).all()
    by_task = {task_id: lead_id for lead_id, task_id, *_ in tasks}
    offers: dict[str, list[Any]] = {}
    if by_task:
        for task_id, agent, outcome, explanation in await session.execute(
                select(Reservation.task_id, User.display_name, Reservation.outcome, Reservation.explanation)
                .join(User, User.id == Reservation.agent_id)
                .where(Reservation.task_id.in_(by_task)).order_by(Reservation.created_at)):
            seen = offers.setdefault(task_id, [0, None, None])
            seen[0] += 1
            if outcome == "accepted" or seen[2] is None:
                seen[1] = agent if outcome == "accepted" else seen[1]
                seen[2] = explanation
    out: dict[int, tuple[Any, ...]] = {}
    for lead_id, task_id, created, assigned, deadline in tasks:
        count, agent, explanation = offers.get(task_id, [0, None, None])
        out.setdefault(lead_id, (created, assigned, deadline, count, agent, explanation))
    return out


AUDIT_COLUMNS = ("id", "at", "user_id", "username", "action", "outcome", "lead_id", "contact_id", "ip", "detail")


async def audit_rows(session: AsyncSession, *, since: datetime | None, until: datetime | None,
                     user_id: int | None, action: str | None, lead_id: int | None, outcome: str | None,
                     limit: int | None = None, page: int = PAGE, contact_id: int | None = None,
                     before: int | None = None) -> AsyncIterator[Sequence[Sequence[Any]]]:
    """Audit entries matching the filters, newest first and older than `before` if given, page by page (keyset on id)."""
    left = limit
    while left is None or left > 0:
        take = page if left is None else min(page, left)
        query = (select(AuditEntry.id, AuditEntry.at, AuditEntry.user_id, User.username, AuditEntry.action,
                        AuditEntry.outcome, AuditEntry.lead_id, AuditEntry.contact_id, AuditEntry.ip, AuditEntry.detail)
                 .outerjoin(User, User.id == AuditEntry.user_id).order_by(AuditEntry.id.desc()).limit(take))
        if before is not None:
            query = query.where(AuditEntry.id < before)
        if since is not None:
            query = query.where(AuditEntry.at >= since)
        if until is not None:
            query = query.where(AuditEntry.at < until)
        if user_id is not None:
            query = query.where(AuditEntry.user_id == user_id)
        if action:
            query = query.where(AuditEntry.action.startswith(action, autoescape=True))
        if lead_id is not None:
            query = query.where(AuditEntry.lead_id == lead_id)
        if contact_id is not None:
            query = query.where(AuditEntry.contact_id == contact_id)
        if outcome:
            query = query.where(AuditEntry.outcome == outcome)
        rows = (await session.execute(query)).all()
        if not rows:
            return
        yield [tuple(r) for r in rows]
        before = rows[-1][0]
        if left is not None:
            left -= len(rows)
