"""Every agent's presence and activity over time: one row per change, each lasting until the next."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_store.models import AgentActivity, User

SOURCES = ("console", "routing", "pbx", "admin")


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of one state; `ended_at` None: it still lasts."""

    state: str
    reason: str | None
    source: str
    started_at: datetime
    ended_at: datetime | None

    def seconds(self, until: datetime) -> float:
        return max(0.0, ((self.ended_at or until) - self.started_at).total_seconds())


async def last_state(session: AsyncSession, user_id: int) -> tuple[str, str | None] | None:
    row = (await session.execute(select(AgentActivity.state, AgentActivity.reason)
                                 .where(AgentActivity.user_id == user_id)
                                 .order_by(AgentActivity.started_at.desc(), AgentActivity.id.desc()).limit(1))).first()
    return (row[0], row[1]) if row else None


async def record_change(session: AsyncSession, user_id: int, state: str, reason: str | None, source: str,
                        at: datetime) -> bool:
    """Add a row when the agent's (state, reason) differs from their last one; True if added."""
    reason = reason[:60] if reason else None
    if await last_state(session, user_id) == (state, reason):
        return False     # a repeated presence.set, or a change of load that left the activity as it was
    session.add(AgentActivity(user_id=user_id, state=state[:20], reason=reason, source=source, started_at=at))
    return True


async def spans(session: AsyncSession, user_id: int, since: datetime, until: datetime) -> list[Span]:
    """The agent's states in [since, until), clipped to it: the state they were in at `since` comes first."""
    before = (await session.scalars(select(AgentActivity).where(
        AgentActivity.user_id == user_id, AgentActivity.started_at < since)
        .order_by(AgentActivity.started_at.desc(), AgentActivity.id.desc()).limit(1))).first()
    inside = list(await session.scalars(select(AgentActivity).where(
        AgentActivity.user_id == user_id, AgentActivity.started_at >= since, AgentActivity.started_at < until)
        .order_by(AgentActivity.started_at, AgentActivity.id)))
    rows = ([before] if before is not None else []) + inside
    after = await session.scalar(select(func.min(AgentActivity.started_at)).where(
        AgentActivity.user_id == user_id, AgentActivity.started_at >= until))
    out = []
    for i, row in enumerate(rows):
        end = rows[i + 1].started_at if i + 1 < len(rows) else (min(after, until) if after else None)
        out.append(Span(row.state, row.reason, row.source, max(row.started_at, since), end))
    return out


async def time_in_states(session: AsyncSession, user_ids: Collection[int], since: datetime, until: datetime,
                         now: datetime) -> dict[int, dict[str, float]]:
    """Seconds per "state" or "state:reason" of each agent in [since, min(until, now))."""
    if not user_ids:
        return {}
    end = min(until, now)
    # The row each agent was in at `since`: one indexed probe per agent ((user_id, started_at) backwards), all
    # in one statement; a GROUP BY over everything before `since` would not stay cheap as history grows.
    latest = (select(AgentActivity.id).where(AgentActivity.user_id == User.id, AgentActivity.started_at < since)
              .order_by(AgentActivity.started_at.desc(), AgentActivity.id.desc()).limit(1)
              .correlate(User).scalar_subquery())
    opening = [tuple(row) for row in await session.execute(
        select(AgentActivity.user_id, AgentActivity.state, AgentActivity.reason, AgentActivity.started_at)
        .where(AgentActivity.id.in_(select(latest).where(User.id.in_(user_ids)))))]
    # The period's spans summed in the database: each row lasts until the next (a window function), the last
    # until `end`; only a few rows per agent and state come back, however many changes the month had.
    following = func.lead(AgentActivity.started_at).over(partition_by=AgentActivity.user_id,
                                                         order_by=(AgentActivity.started_at, AgentActivity.id))
    inner = (select(AgentActivity.user_id, AgentActivity.state, AgentActivity.reason,
                    AgentActivity.started_at.label("at"), following.label("next"))
             .where(AgentActivity.user_id.in_(user_ids), AgentActivity.started_at >= since,
                    AgentActivity.started_at < end).subquery())
    stop = func.coalesce(inner.c.next, literal(end, AgentActivity.started_at.type))
    seconds = _seconds_between(session, inner.c.at, stop)
    sums = await session.execute(select(inner.c.user_id, inner.c.state, inner.c.reason, func.sum(seconds),
                                        func.min(inner.c.at))
                                 .group_by(inner.c.user_id, inner.c.state, inner.c.reason))
    spent: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    first_change: dict[int, datetime] = {}
    for user_id, state, reason, total, first in sums:
        _add(spent[user_id], state, reason, float(total or 0))
        first_change[user_id] = min(first_change.get(user_id, first), first)
    for user_id, state, reason, _at in opening:
        _add(spent[user_id], state, reason, max(0.0, (first_change.get(user_id, end) - since).total_seconds()))
    return {u: {k: round(v, 1) for k, v in states.items()} for u, states in spent.items()}


def _add(spent: dict[str, float], state: str, reason: str | None, seconds: float) -> None:
    spent[state] += seconds
    if reason:
        spent[f"{state}:{reason}"] += seconds


def _seconds_between(session: AsyncSession, start: Any, stop: Any) -> Any:
    if session.bind.dialect.name == "sqlite":
        return (func.julianday(stop) - func.julianday(start)) * 86400.0
    return func.extract("epoch", stop - start)
