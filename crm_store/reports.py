"""Reports: where leads came from and how they ended; what each manager did in a period."""
from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Float, and_, case, cast, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from crm_store import activity, call_facts
from crm_store.leads import visible
from crm_store.models import Interaction, Lead, Reservation, RoutingTask, Task
from crm_store.types import Viewer
from vocabulary.channels import EMAIL as EMAIL_CHANNEL, VOICE as VOICE_CHANNEL

SOURCE_KEYS = ("channel", "form", "utm_source", "utm_medium", "utm_campaign", "did", "deep_link")


@dataclass(frozen=True, slots=True)
class SourceRow:
    source: tuple[tuple[str, str], ...]
    leads: int
    won: int
    lost: int
    handed_over: int
    open: int

    @property
    def conversion(self) -> float | None:
        """Won / all the leads that came: open leads count too (won / closed said 100% with 16 of 17 open)."""
        return round(self.won / self.leads, 4) if self.leads else None


async def by_source(session: AsyncSession, since: datetime, until: datetime,
                    keys: tuple[str, ...] = SOURCE_KEYS, viewer: Viewer | None = None) -> list[SourceRow]:
    """Leads created in [since, until) that `viewer` sees (None: all), grouped by the chosen source keys,
    most leads first."""
    rows = await session.execute(select(Lead.source, Lead.status, Lead.outcome).where(
        Lead.created_at >= since, Lead.created_at < until, Lead.deleted_at.is_(None),
        visible(viewer) if viewer is not None else true()))
    totals: dict[tuple[tuple[str, str], ...], Counter[str]] = {}
    for source, status, outcome in rows:
        key = tuple((k, str(source[k])) for k in keys if source and source.get(k))
        counts = totals.setdefault(key, Counter())
        counts["leads"] += 1
        counts[outcome if outcome in ("won", "lost", "handed_over") else
               "open" if status in ("new", "assigned", "in_progress") else "other"] += 1
    return sorted((SourceRow(key, c["leads"], c["won"], c["lost"], c["handed_over"], c["open"])
                   for key, c in totals.items()), key=lambda r: (-r.leads, r.source))


# -- the manager report ----------------------------------------------------------------------------------

RATING_FIGURES = (
    "offers_received", "offers_accepted", "offers_declined", "offers_timed_out", "accept_median_seconds",
    "accept_p90_seconds", "first_response_seconds", "calls_in", "calls_in_answered", "calls_in_missed", "calls_out",
    "calls_out_answered", "calls_out_missed", "talk_seconds", "aht_seconds", "messages_answered", "emails_answered",
    "leads_won", "leads_lost", "amount_won", "amount_lost", "conversion", "tasks_done", "tasks_overdue",
)
"""The figures of a manager's row that are single numbers: what the rating may weigh."""


@dataclass(frozen=True, slots=True)
class ReportScope:
    """Whose work a report covers and how: the period [since, until) and an optional queue."""

    user_ids: tuple[int, ...]
    since: datetime
    until: datetime
    queue: str | None = None


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    at = q * (len(ordered) - 1)
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (at - low), 1)


async def manager_figures(session: AsyncSession, scope: ReportScope, now: datetime) -> dict[int, dict[str, Any]]:
    """Every figure of the manager report per user of the scope. Each part reads its period through an index."""
    users = scope.user_ids
    rows: dict[int, dict[str, Any]] = {u: {f: 0 for f in RATING_FIGURES} for u in users}
    if not users:
        return rows
    await _offers(session, scope, rows)
    await _first_responses(session, scope, rows)
    await _calls(session, scope, rows)
    await _answers(session, scope, rows)
    await _lead_results(session, scope, rows)
    await _tasks(session, scope, rows, now)
    presence = await activity.time_in_states(session, users, scope.since, scope.until, now)
    for user_id, row in rows.items():
        row["presence_seconds"] = presence.get(user_id, {})
        wrap = row["presence_seconds"].get("wrap_up", 0.0)
        handled = row["calls_in_answered"] + row["calls_out_answered"]
        row["aht_seconds"] = round((row["talk_seconds"] + wrap) / handled, 1) if handled else None
        decided = row["leads_won"] + row["leads_lost"]
        row["conversion"] = round(row["leads_won"] / decided, 4) if decided else None
    return rows


def _seconds(session: AsyncSession, start: Any, stop: Any) -> Any:
    """`stop - start` in seconds, computed by the database: no timestamp is parsed in Python."""
    if session.bind.dialect.name == "sqlite":
        return (func.julianday(stop) - func.julianday(start)) * 86400.0
    return cast(func.extract("epoch", stop - start), Float)      # a double: no Decimal per row


def _exact(seconds: Any) -> float:
    # julianday keeps ~50 us; the figures are shown to 0.1 s, and milliseconds keep them equal to Python's.
    return round(float(seconds), 3)


async def _offers(session: AsyncSession, scope: ReportScope, rows: dict[int, dict[str, Any]]) -> None:
    """Counts by outcome summed by the database; only the accepted offers' waits (one number each) come back."""
    period = (Reservation.created_at >= scope.since, Reservation.created_at < scope.until,
              Reservation.agent_id.in_(scope.user_ids))
    counts = (select(Reservation.agent_id, Reservation.outcome, func.count()).where(*period)
              .group_by(Reservation.agent_id, Reservation.outcome))
    waits = (select(Reservation.agent_id, _seconds(session, Reservation.created_at, Reservation.decided_at))
             .where(*period, Reservation.outcome == "accepted", Reservation.decided_at.is_not(None)))
    if scope.queue is not None:
        in_queue = (RoutingTask.id == Reservation.task_id, RoutingTask.queue == scope.queue)
        counts, waits = counts.join(RoutingTask, and_(*in_queue)), waits.join(RoutingTask, and_(*in_queue))
    names = {"accepted": "offers_accepted", "rejected": "offers_declined", "timeout": "offers_timed_out"}
    for agent_id, outcome, count in await session.execute(counts):
        row = rows[agent_id]
        row["offers_received"] += count
        if outcome in names:
            row[names[outcome]] += count
    found: dict[int, list[float]] = {u: [] for u in scope.user_ids}
    for agent_id, seconds in await session.execute(waits):
        found[agent_id].append(_exact(seconds))
    for user_id, seconds in found.items():
        rows[user_id]["accept_median_seconds"] = _quantile(seconds, 0.5)
        rows[user_id]["accept_p90_seconds"] = _quantile(seconds, 0.9)


async def _first_responses(session: AsyncSession, scope: ReportScope, rows: dict[int, dict[str, Any]]) -> None:
    """From a task's arrival to its assignee's first answer on the lead, per channel (calls are answered live).

    The first answer is one probe of (lead_id, direction, created_at); the wait comes back as a number."""
    answer = (select(func.min(Interaction.created_at))
              .where(Interaction.lead_id == RoutingTask.lead_id, Interaction.direction == "outbound",
                     Interaction.created_at >= RoutingTask.created_at)
              .correlate(RoutingTask).scalar_subquery())
    # The probe appears once: filtering on it in SQL would have PostgreSQL run it twice per task.
    query = (select(RoutingTask.assignee_id, RoutingTask.channel, _seconds(session, RoutingTask.created_at, answer))
             .where(RoutingTask.assignee_id.in_(scope.user_ids), RoutingTask.assigned_at >= scope.since,
                    RoutingTask.assigned_at < scope.until, RoutingTask.channel != VOICE_CHANNEL))
    if scope.queue is not None:
        query = query.where(RoutingTask.queue == scope.queue)
    found: dict[int, dict[str, list[float]]] = {u: {} for u in scope.user_ids}
    for user_id, channel, seconds in await session.execute(query):
        if seconds is not None:         # not answered (yet)
            found[user_id].setdefault(channel, []).append(_exact(seconds))
    for user_id, per_channel in found.items():
        everything = [s for values in per_channel.values() for s in values]
        rows[user_id]["first_response_seconds"] = _quantile(everything, 0.5)
        rows[user_id]["first_response_by_channel"] = {c: _quantile(v, 0.5) for c, v in sorted(per_channel.items())}


async def _calls(session: AsyncSession, scope: ReportScope, rows: dict[int, dict[str, Any]]) -> None:
    """Calls from each call's facts (`crm_store.call_facts`, written with its record): who rang, who
    answered, who placed it, talk; summed by the database."""
    for user_id, direction, answered, count, talk in await call_facts.sums(session, scope.user_ids, scope.since,
                                                                           scope.until, scope.queue):
        row = rows[user_id]
        prefix = "calls_out" if direction == "outbound" else "calls_in"
        row[prefix] += count
        row[f"{prefix}_answered" if answered else f"{prefix}_missed"] += count
        row["talk_seconds"] += talk if answered else 0.0
    for row in rows.values():
        row["talk_seconds"] = round(row["talk_seconds"], 1)


async def _answers(session: AsyncSession, scope: ReportScope, rows: dict[int, dict[str, Any]]) -> None:
    query = (select(Interaction.author_id, Interaction.channel, func.count())
             .where(Interaction.created_at >= scope.since, Interaction.created_at < scope.until,
                    Interaction.direction == "outbound", Interaction.author_id.in_(scope.user_ids),
                    Interaction.channel != VOICE_CHANNEL)
             .group_by(Interaction.author_id, Interaction.channel))
    for author_id, channel, count in await session.execute(query):
        rows[author_id]["emails_answered" if channel == EMAIL_CHANNEL else "messages_answered"] += count


async def _lead_results(session: AsyncSession, scope: ReportScope, rows: dict[int, dict[str, Any]]) -> None:
    """Leads closed in the period by whoever held them, with their amounts (minor units, all currencies)."""
    won = or_(Lead.outcome == "won", Lead.status == "won")
    lost = or_(Lead.outcome == "lost", Lead.status == "lost")
    result = case((won, "won"), (lost, "lost"), else_="other")
    query = (select(Lead.assignee_id, result, func.count(), func.coalesce(func.sum(Lead.amount), 0))
             .where(Lead.closed_at >= scope.since, Lead.closed_at < scope.until,
                    Lead.assignee_id.in_(scope.user_ids), Lead.deleted_at.is_(None))
             .group_by(Lead.assignee_id, result))
    for assignee_id, kind, count, total in await session.execute(query):
        if kind in ("won", "lost"):
            rows[assignee_id][f"leads_{kind}"] += count
            rows[assignee_id][f"amount_{kind}"] = float(total)


async def _tasks(session: AsyncSession, scope: ReportScope, rows: dict[int, dict[str, Any]],
                 now: datetime) -> None:
    """Tasks done in the period, and tasks due in the period that were late: still open past their due
    time, or done after it (a task's last change is when it was done)."""
    for row in rows.values():
        row["tasks_done"] = row["tasks_overdue"] = 0
    mine = Task.assignee_id.in_(scope.user_ids)
    done = (select(Task.assignee_id, func.count())
            .where(mine, Task.state == "done", Task.updated_at >= scope.since, Task.updated_at < scope.until)
            .group_by(Task.assignee_id))
    for assignee_id, count in await session.execute(done):
        rows[assignee_id]["tasks_done"] = count
    late = or_(and_(Task.state == "open", Task.due_at < now), and_(Task.state == "done", Task.updated_at > Task.due_at))
    overdue = (select(Task.assignee_id, func.count())
               .where(mine, Task.due_at >= scope.since, Task.due_at < scope.until, late)
               .group_by(Task.assignee_id))
    for assignee_id, count in await session.execute(overdue):
        rows[assignee_id]["tasks_overdue"] = count


def rate(rows: dict[int, dict[str, Any]], weights: Mapping[str, float]) -> list[tuple[int, float]]:
    """(user, score) best first: the admin's weights over the figures (a figure nobody has counts 0)."""
    scored = [(user_id, round(sum(w * float(row.get(name) or 0) for name, w in weights.items()), 3))
              for user_id, row in rows.items()]
    return sorted(scored, key=lambda pair: (-pair[1], pair[0]))


async def hourly(session: AsyncSession, since: datetime, until: datetime, zone: tzinfo,
                 viewer: Viewer | None = None, agents: Collection[int] | None = None) -> list[dict[str, Any]]:
    """Per hour of the company's clock in [since, until): offers made, accepted and missed, leads opened.

    The wallboard's history: from the server, so every screen shows the same hours. With `agents`, only
    offers made to them; with `viewer`, only the leads they see (a manager: their team's)."""
    hours: dict[str, dict[str, Any]] = {}

    def bucket(at: datetime) -> dict[str, Any]:
        key = at.astimezone(zone).replace(minute=0, second=0, microsecond=0).isoformat()
        return hours.setdefault(key, {"hour": key, "offers": 0, "accepted": 0, "missed": 0, "leads": 0})

    offers = select(Reservation.created_at, Reservation.outcome).where(Reservation.created_at >= since,
                                                                        Reservation.created_at < until)
    if agents is not None:
        offers = offers.where(Reservation.agent_id.in_(agents))
    for created, outcome in await session.execute(offers):
        row = bucket(created)
        row["offers"] += 1
        if outcome == "accepted":
            row["accepted"] += 1
        elif outcome in ("rejected", "timeout"):
            row["missed"] += 1
    for (created,) in await session.execute(select(Lead.created_at).where(
            Lead.created_at >= since, Lead.created_at < until, visible(viewer) if viewer is not None else true())):
        bucket(created)["leads"] += 1
    return [hours[k] for k in sorted(hours)]
