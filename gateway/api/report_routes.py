"""Reports: which sources bring leads, what each manager did, an agent's day; each also as CSV or XLSX.

Days are the company's (`[reports] timezone`), not UTC: "today" ends at the office's midnight.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from aiohttp import web

from crm_store import activity, audit, exports as store_exports, reports, users
from crm_store.types import Role, Viewer
from gateway.api.params import path_id, query_day, query_id
from gateway.auth import client_ip, principal, require_role
from gateway.errors import refuse
from gateway.exports import chunks_of, send_table, wanted_format
from gateway.keys import CLOCK, SESSIONS, SETTINGS

routes = web.RouteTableDef()
PERIODS = ("today", "week", "month")


def _zone(request: web.Request) -> Any:
    return request.app[SETTINGS].reports.zone


def _today(request: web.Request) -> date:
    return request.app[CLOCK]().astimezone(_zone(request)).date()


def _day(request: web.Request, names: tuple[str, ...], default: date) -> date:
    for name in names:
        if request.query.get(name):
            return query_day(request, name, default).date()
    return default


def _period(request: web.Request) -> tuple[date, date]:
    """The first and last day asked for: `period=today|week|month`, or `from`/`to` (default: the last 30 days)."""
    today = _today(request)
    period = request.query.get("period")
    if period:
        if period not in PERIODS:
            refuse(422, "invalid", "period is today, week or month (or give from and to)", "period")
        first = {"today": today, "week": today - timedelta(days=today.weekday()), "month": today.replace(day=1)}[period]
        return first, today
    first = _day(request, ("from", "since"), today - timedelta(days=29))
    last = _day(request, ("to", "until"), today)
    if last < first:
        refuse(422, "invalid", "to is before from", "to")
    return first, last


def _bounds(request: web.Request, first: date, last: date) -> tuple[datetime, datetime]:
    """The company's midnights that open `first` and close `last`, in UTC."""
    zone = _zone(request)
    return (datetime.combine(first, time(), zone).astimezone(UTC),
            datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC))


def _scoped(viewer: Viewer) -> Viewer | None:
    """Whose view narrows a company-wide report: a manager's (their team); None for those who see everything."""
    return None if viewer.role.sees_everything else viewer


@routes.get("/api/v1/reports/sources")
async def sources(request: web.Request) -> web.StreamResponse:
    who = await require_role(request, Role.MANAGER, Role.SUPERVISOR, Role.ADMIN)
    fmt = wanted_format(request)
    first, last = _period(request)
    since, until = _bounds(request, first, last)
    keys = tuple(k for k in request.query.get("by", "").split(",") if k) or reports.SOURCE_KEYS
    async with request.app[SESSIONS]() as session:
        rows = await reports.by_source(session, since, until, keys, _scoped(who.viewer))
    items = [{"source": dict(r.source), "leads": r.leads, "won": r.won, "lost": r.lost,
              "handed_over": r.handed_over, "open": r.open, "conversion": r.conversion} for r in rows]
    if fmt:
        table = [("; ".join(f"{k}={v}" for k, v in r["source"].items()), r["leads"], r["won"], r["lost"],
                  r["handed_over"], r["open"], r["conversion"]) for r in items]
        return await send_table(request, f"sources-{first}-{last}", fmt,
                                ("source", "leads", "won", "lost", "handed_over", "open", "conversion"),
                                chunks_of(table))
    return web.json_response({"since": first.isoformat(), "until": last.isoformat(), "rows": items})


MANAGER_COLUMNS = ("rank", "user_id", "display_name", "score", *reports.RATING_FIGURES)


@routes.get("/api/v1/reports/managers")
async def managers(request: web.Request) -> web.StreamResponse:
    """Each manager's figures over the period, rated by the admin's weights, best first; scoped to the viewer."""
    who = await require_role(request, Role.MANAGER, Role.SUPERVISOR, Role.ADMIN)
    fmt = wanted_format(request)
    first, last = _period(request)
    since, until = _bounds(request, first, last)
    team_id = query_id(request, "team")
    queue = request.query.get("queue") or None
    if queue is not None and queue not in request.app[SETTINGS].routing.queues:
        refuse(422, "invalid", f"unknown queue {queue[:60]!r}", "queue")
    weights = request.app[SETTINGS].reports.rating
    async with request.app[SESSIONS]() as session, session.begin():
        staff = await users.staff_in_scope(session, who.viewer, team_id)
        teams = await users.teams(session) if who.viewer.role.sees_everything else \
            [t for t in await users.teams(session) if t.id == who.viewer.team_id]
        scope = reports.ReportScope(tuple(u.id for u in staff), since, until, queue)
        figures = await reports.manager_figures(session, scope, request.app[CLOCK]())
        audit.record(session, "report.managers", request.app[CLOCK](), user_id=who.user_id, ip=client_ip(request),
                     detail={"query": dict(request.query), "users": list(scope.user_ids)})
    names = {u.id: u.display_name for u in staff}
    ranked = [{"rank": i + 1, "user_id": user_id, "display_name": names[user_id], "score": score,
               **figures[user_id]} for i, (user_id, score) in enumerate(reports.rate(figures, weights))]
    if fmt:
        table = [[row.get(c) for c in MANAGER_COLUMNS] for row in ranked]
        return await send_table(request, f"managers-{first}-{last}", fmt, MANAGER_COLUMNS, chunks_of(table))
    return web.json_response({"from": first.isoformat(), "to": last.isoformat(),
                              "timezone": request.app[SETTINGS].reports.timezone, "team": team_id, "queue": queue,
                              "weights": weights, "teams": [{"id": t.id, "name": t.name} for t in teams],
                              "rows": ranked})


@routes.get("/api/v1/agents/{user_id:[0-9]+}/activity")
async def agent_activity(request: web.Request) -> web.StreamResponse:
    """One agent's day (`day=`, the company's) as spans of presence and activity, with reasons and sources."""
    who = principal(request)
    fmt = wanted_format(request)
    day = _day(request, ("day",), _today(request))
    since, until = _bounds(request, day, day)
    user_id = path_id(request, "user_id", "user")
    async with request.app[SESSIONS]() as session:
        agent = await users.may_see_agent(session, who.viewer, user_id)
        spans = await activity.spans(session, agent.id, since, until)
    now = request.app[CLOCK]()
    items = [{"state": s.state, "reason": s.reason, "source": s.source, "started_at": s.started_at.isoformat(),
              "ended_at": (s.ended_at or (None if until > now else until)).isoformat()
              if (s.ended_at or until <= now) else None,
              "seconds": round(s.seconds(min(until, now)), 1)} for s in spans]
    if fmt:
        table = [[i["started_at"], i["ended_at"], i["state"], i["reason"], i["source"], i["seconds"]] for i in items]
        return await send_table(request, f"activity-{agent.username}-{day}", fmt,
                                ("started_at", "ended_at", "state", "reason", "source", "seconds"), chunks_of(table))
    return web.json_response({"user_id": agent.id, "display_name": agent.display_name, "day": day.isoformat(),
                              "timezone": request.app[SETTINGS].reports.timezone, "from": since.isoformat(),
                              "to": until.isoformat(), "spans": items})


@routes.get("/api/v1/exports/leads")
async def export_leads(request: web.Request) -> web.StreamResponse:
    """One row per lead the viewer sees, created in the period: source, stage, people, SLA and routing's why."""
    who = principal(request)
    fmt = wanted_format(request) or "csv"
    first, last = _period(request)
    since, until = _bounds(request, first, last)
    async with request.app[SESSIONS]() as session, session.begin():
        audit.record(session, "leads.export", request.app[CLOCK](), user_id=who.user_id, ip=client_ip(request),
                     detail={"query": dict(request.query)})
    async with request.app[SESSIONS]() as session:
        return await send_table(request, f"leads-{first}-{last}", fmt, store_exports.LEAD_COLUMNS,
                                store_exports.lead_rows(session, who.viewer, since, until))


@routes.get("/api/v1/reports/hourly")
async def hourly(request: web.Request) -> web.StreamResponse:
    """The wallboard's history: offers and leads per hour of one company day (default today)."""
    who = await require_role(request, Role.MANAGER, Role.SUPERVISOR, Role.ADMIN)
    fmt = wanted_format(request)
    day = _day(request, ("day",), _today(request))
    since, until = _bounds(request, day, day)
    async with request.app[SESSIONS]() as session:
        viewer = _scoped(who.viewer)
        agents = None if viewer is None else [u.id for u in await users.staff_in_scope(session, who.viewer)]
        rows = await reports.hourly(session, since, until, _zone(request), viewer, agents)
    if fmt:
        columns = ("hour", "offers", "accepted", "missed", "leads")
        return await send_table(request, f"hourly-{day}", fmt, columns,
                                chunks_of([[r[c] for c in columns] for r in rows]))
    return web.json_response({"day": day.isoformat(), "timezone": request.app[SETTINGS].reports.timezone,
                              "hours": rows})
