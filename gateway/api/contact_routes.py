"""Merge suggestions a manager confirms or rejects, and undo of a merge."""
from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from crm_store import audit, contacts
from crm_store.types import Role
from gateway.api.params import DbId, path_id, query_id
from gateway.api.serialize import suggestion_json
from gateway.auth import audit_refusals, client_ip, require_role
from gateway.errors import read_model
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
async def audit_log(request: web.Request) -> web.Response:
    await require_role(request, Role.SUPERVISOR, Role.ADMIN)
    lead_id = query_id(request, "lead_id")
    async with request.app[SESSIONS]() as session:
        found = await audit.entries(session, lead_id=lead_id)
        return web.json_response({"items": [
            {"id": e.id, "at": e.at.isoformat(), "user_id": e.user_id, "action": e.action, "outcome": e.outcome,
             "lead_id": e.lead_id, "contact_id": e.contact_id, "ip": e.ip, "detail": e.detail} for e in found]})
