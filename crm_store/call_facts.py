"""Each ended call's facts per person, kept beside its record so that reports sum narrow indexed rows.

A call's record is JSON on its interaction (who rang, who answered, talk, legs); reading a month of those
means parsing thousands of documents per report. The same rules the report used on the JSON now run once,
when the record is written (`crm_store.calls.update_calls`), and the report adds up `call_facts`.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from crm_store.models import CallFact, Interaction


@dataclass(frozen=True, slots=True)
class Fact:
    user_id: int
    direction: str
    answered: bool
    talk_seconds: float


def facts_of(direction: str, author_id: int | None, attributes: Mapping[str, Any]) -> list[Fact]:
    """Who took part in an ended call and how: the operator who placed an outbound call (answered or not);
    for an inbound call everyone whose phone rang and whoever answered (talk counts for them only)."""
    if attributes.get("status") != "ended":
        return []
    talk = float(attributes.get("talk_seconds") or 0)
    if direction == "outbound":
        placed_by = attributes.get("placed_by") or author_id
        if not isinstance(placed_by, int):
            return []
        answered = attributes.get("outcome") == "answered"
        return [Fact(placed_by, "outbound", answered, talk if answered else 0.0)]
    answered_by = attributes.get("answered_by")
    rang = {leg.get("user_id") for leg in attributes.get("legs") or () if isinstance(leg.get("user_id"), int)}
    rang |= {answered_by} if isinstance(answered_by, int) else set()
    return [Fact(user_id, "inbound", user_id == answered_by, talk if user_id == answered_by else 0.0)
            for user_id in sorted(rang)]


def rows_of(interaction_id: int, at: datetime, direction: str, author_id: int | None,
            attributes: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The `call_facts` rows of one call record (for bulk inserts: the migration's backfill, the bench)."""
    queue = attributes.get("queue")
    return [{"interaction_id": interaction_id, "user_id": f.user_id, "at": at, "direction": f.direction,
             "queue": str(queue)[:100] if queue else None, "answered": f.answered, "talk_seconds": f.talk_seconds}
            for f in facts_of(direction, author_id, attributes)]


def replace_facts(session: Session, calls: Iterable[Interaction]) -> None:
    """Write the facts of these call records anew (a record rewritten replaces its facts, never adds to them)."""
    calls = [c for c in calls if c.attributes.get("status") == "ended"]
    if not calls:
        return
    session.execute(delete(CallFact).where(CallFact.interaction_id.in_([c.id for c in calls])))
    rows = [row for call in calls for row in rows_of(call.id, call.created_at, call.direction, call.author_id,
                                                     call.attributes)]
    if rows:
        session.execute(insert(CallFact), rows)     # one statement for the group's records, no objects to flush


async def sums(session: AsyncSession, user_ids: Collection[int], since: datetime, until: datetime,
               queue: str | None = None) -> list[tuple[int, str, bool, int, float]]:
    """(user, direction, answered, calls, talk seconds) over the calls made in [since, until)."""
    query = (select(CallFact.user_id, CallFact.direction, CallFact.answered, func.count(),
                    func.coalesce(func.sum(CallFact.talk_seconds), 0.0))
             .where(CallFact.user_id.in_(user_ids), CallFact.at >= since, CallFact.at < until)
             .group_by(CallFact.user_id, CallFact.direction, CallFact.answered))
    if queue is not None:
        query = query.where(CallFact.queue == queue)
    return [(int(u), d, bool(a), int(n), float(t)) for u, d, a, n, t in await session.execute(query)]
