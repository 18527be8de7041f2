"""Reports for managers: which sources bring leads, and which of those are won."""
from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from crm_store import reports
from crm_store.types import Role
from gateway.api.params import query_day
from gateway.auth import require_role
from gateway.keys import CLOCK, SESSIONS

routes = web.RouteTableDef()


@routes.get("/api/v1/reports/sources")
async def sources(request: web.Request) -> web.Response:
    await require_role(request, Role.MANAGER, Role.SUPERVISOR, Role.ADMIN)
    today = request.app[CLOCK]().date()
    since = query_day(request, "since", today - timedelta(days=30))
    until = query_day(request, "until", today) + timedelta(days=1)
    keys = tuple(k for k in request.query.get("by", "").split(",") if k) or reports.SOURCE_KEYS
    async with request.app[SESSIONS]() as session:
        rows = await reports.by_source(session, since, until, keys)
    return web.json_response({"since": since.date().isoformat(), "until": (until - timedelta(days=1)).date().isoformat(),
                              "rows": [{"source": dict(r.source), "leads": r.leads, "won": r.won, "lost": r.lost,
                                        "handed_over": r.handed_over, "open": r.open, "conversion": r.conversion}
                                       for r in rows]})
