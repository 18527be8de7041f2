"""Merge suggestions a manager confirms or rejects, and undo of a merge."""
from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict

import json
from datetime import timedelta
from typing import Any

from crm_store import audit, contacts, exports
from crm_store.types import Role
from gateway.api.params import EARLIEST, DbId, path_id, query_day, query_id, query_int
from gateway.api.serialize import suggestion_json
from gateway.auth import audit_refusals, client_ip, require_role
from gateway.errors import read_model, refuse
from gateway.exports import send_table, wanted_format
from gateway.keys import CLOCK, SESSIONS

routes = web.RouteTableDef()
DECIDERS = (Role.MANAGER, Role.SUPERVISOR, Role.ADMIN)


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    survivor_id: DbId | None = None


@routes.get("/api/v1/merge-suggestions")
async def list_suggestions(request: web.Request) -> web.Response:
    who = await require_role(request, *DECIDERS)
    async with request.app[SESSIONS]() as session:
        found = await contacts.pending_suggestions(session, who.viewer)
        return web.json_response({"items": [suggestion_json(s) for s in found]})


@routes.post("/api/v1/merge-suggestions/{suggestion_id:[0-9]+}/{decision:accept|reject}")
@audit_refusals("merge.decide")
async def decide(request: web.Request) -> web.Response:
    who = await require_role(request, *DECIDERS)
    body = await read_model(request, Decision)
    accept = request.match_info["decision"] == "accept"
    suggestion_id, now = path_id(request, "suggestion_id", "merge suggestion"), request.app[CLOCK]()
    async with request.app[SESSIONS]() as session, session.begin():
        merge = await contacts.decide_suggestion(session, who.viewer, suggestion_id, accept, now, body.survivor_id)
        audit.record(session, f"merge.{request.match_info['decision']}", now, user_id=who.user_id,
                     contact_id=merge.survivor_id if merge else None, ip=client_ip(request),
                     detail={"suggestion_id": suggestion_id, "merge_id": merge.id if merge else None})
        if merge is None:
            return web.json_response({"suggestion_id": suggestion_id, "status": "rejected"})
        return web.json_response({"suggestion_id": suggestion_id, "status": "accepted", "merge_id": merge.id,
                                  "survivor_id": merge.survivor_id, "merged_id": merge.merged_id})


@routes.post("/api/v1/merges/{merge_id:[0-9]+}/undo")
@audit_refusals("merge.undo")
async def undo(request: web.Request) -> web.Response:
    who = await require_role(request, *DECIDERS)
    merge_id, now = path_id(request, "merge_id", "merge"), request.app[CLOCK]()
    async with request.app[SESSIONS]() as session, session.begin():
        merge = await contacts.undo_merge(session, who.viewer, merge_id, now)
        audit.record(session, "merge.undo", now, user_id=who.user_id, contact_id=merge.survivor_id,
                     ip=client_ip(request), detail={"merge_id": merge_id, "restored_contact_id": merge.merged_id})
    return web.json_response({"merge_id": merge_id, "restored_contact_id": merge.merged_id})


@routes.get("/api/v1/audit")
async def audit_log(request: web.Request) -> web.StreamResponse:
    """Who read or changed what: filters by user, action (a prefix such as `lead.`), outcome, lead and days."""
    await require_role(request, Role.SUPERVISOR, Role.ADMIN)
    fmt = wanted_format(request)
    lead_id, user_id = query_id(request, "lead_id"), query_id(request, "user_id")
    contact_id, before = query_id(request, "contact_id"), query_id(request, "before")
    outcome = request.query.get("outcome") or None
    if outcome not in (None, "ok", "denied", "unauthenticated"):
        refuse(422, "invalid", "outcome is ok, denied or unauthenticated", "outcome")
    action = (request.query.get("action") or "")[:60] or None
    since = query_day(request, "since", EARLIEST) if request.query.get("since") else None
    until = query_day(request, "until", EARLIEST) + timedelta(days=1) if request.query.get("until") else None
    limit = query_int(request, "limit", 100, 1, 1000)
    filters = {"since": since, "until": until, "user_id": user_id, "action": action, "lead_id": lead_id,
               "outcome": outcome, "contact_id": contact_id, "before": before}
    if fmt:
        async with request.app[SESSIONS]() as session:
            return await send_table(request, "audit", fmt, exports.AUDIT_COLUMNS,
                                    _as_text(exports.audit_rows(session, **filters)))
    async with request.app[SESSIONS]() as session:
        items = [dict(zip(exports.AUDIT_COLUMNS, row)) async for chunk in
                 exports.audit_rows(session, **filters, limit=limit) for row in chunk]
    return web.json_response({"items": [{**i, "at": i["at"].isoformat()} for i in items]})


async def _as_text(rows: Any) -> Any:
    async for chunk in rows:
        yield [(*row[:-1], json.dumps(row[-1], ensure_ascii=False)) for row in chunk]
