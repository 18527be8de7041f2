"""The OpenAPI 3.1 document of /api/v1: a table of operations, request bodies from the handlers' pydantic models.

A test holds this table against the application's real routes (every /api/v1 route documented,
every documented one real), so a new endpoint without a line here fails the suite.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from crm_store.types import LeadStatus
from gateway.api.call_routes import CallRequest
from gateway.api.contact_routes import Decision
from gateway.api.lead_routes import LeadPatch, NewLead
from gateway.api.reply_routes import Reply
from gateway.api.session_routes import Login
from gateway.api.user_routes import UserIn, UserPatch

STAFF = ("manager", "supervisor", "admin")


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    schema: dict[str, Any]
    where: str = "query"


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    params: tuple[Param, ...] = ()
    roles: tuple[str, ...] = ()          # empty: any signed-in user
    public: bool = False
    ok: int = 200


def _id(name: str) -> Param:
    return Param(name, f"the {name.removesuffix('_id')}'s id", {"type": "integer", "minimum": 1}, "path")


def _csv(name: str, description: str) -> Param:
    return Param(name, f"{description}, comma-separated", {"type": "string"})


_DAY = {"type": "string", "format": "date"}
_FORMAT = Param("format", "csv or xlsx: the same rows as a download", {"type": "string", "enum": ["csv", "xlsx"]})
_LEADS = ("GET", "/api/v1/leads", "Leads the caller may see, newest first", "leads")

OPERATIONS: tuple[Op, ...] = (
    Op("POST", "/api/v1/auth/login", "Sign in: a bearer token, also set as the session cookie", "session",
       Login, public=True),
    Op("POST", "/api/v1/auth/logout", "End this session", "session"),
    Op("GET", "/api/v1/me", "The signed-in user", "session"),
    Op("GET", "/api/v1/config", "What the screens need: lead fields, channels, phone region", "session"),
    Op(*_LEADS, params=(
        Param("status", "lead statuses, comma-separated",
              {"type": "string", "examples": [",".join(s.value for s in LeadStatus)]}),
        _csv("channel", "channels (form, email, telegram, voice, …)"),
        Param("assignee", "'me', 'none' or a user id", {"type": "string"}),
        Param("view", "'mine' (my open leads) or 'unassigned' (waiting work of my team's queues)",
              {"type": "string", "enum": ["mine", "unassigned"]}),
        Param("q", "text, phone or e-mail to search for", {"type": "string", "maxLength": 200}),
        Param("limit", "page size", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}),
        Param("offset", "rows to skip", {"type": "integer", "minimum": 0, "default": 0}))),
    Op("GET", "/api/v1/leads/counts", "My open leads and the unassigned work I may take: {mine, unassigned}", "leads"),
    Op("POST", "/api/v1/leads/{lead_id}/take", "Take a lead nobody has (one taker wins; 409 for the other)",
       "leads", params=(_id("lead_id"),)),
    Op("POST", "/api/v1/leads", "A lead entered by hand; it is the creator's", "leads", NewLead, ok=201),
    Op("GET", "/api/v1/leads/{lead_id}", "The card: lead, contact and identities, owner, timeline", "leads",
       params=(_id("lead_id"),)),
    Op("PATCH", "/api/v1/leads/{lead_id}", "Change status, notes, assignee, outcome, fields", "leads",
       LeadPatch, params=(_id("lead_id"),)),
    Op("DELETE", "/api/v1/leads/{lead_id}", "Soft delete, if the role may (setting permissions.delete)", "leads",
       params=(_id("lead_id"),), ok=204),
    Op("POST", "/api/v1/leads/{lead_id}/reply", "Answer through the channel the client wrote on", "leads",
       Reply, params=(_id("lead_id"),), ok=201),
    Op("GET", "/api/v1/leads/{lead_id}/routing", "Every offer made for the lead and why routing chose whom",
       "routing", params=(_id("lead_id"),)),
    Op("GET", "/api/v1/queues/stats", "Live queue numbers per queue and per channel", "routing"),
    Op("GET", "/api/v1/interactions/{interaction_id}/attachments/{index}", "An attachment, as a download",
       "leads", params=(_id("interaction_id"),
                        Param("index", "the attachment's position", {"type": "integer", "minimum": 0}, "path"))),
    Op("GET", "/api/v1/users", "Every user", "users", roles=("supervisor", "admin")),
    Op("POST", "/api/v1/users", "Create a user", "users", UserIn, roles=("admin",), ok=201),
    Op("PATCH", "/api/v1/users/{user_id}", "Change a user (inactive users go offline)", "users", UserPatch,
       params=(_id("user_id"),), roles=("admin",)),
    Op("GET", "/api/v1/merge-suggestions", "Contacts that look like the same client", "contacts", roles=STAFF),
    Op("POST", "/api/v1/merge-suggestions/{suggestion_id}/{decision}", "Accept or reject a merge", "contacts",
       Decision, params=(_id("suggestion_id"),
                         Param("decision", "what to do", {"type": "string", "enum": ["accept", "reject"]}, "path")),
       roles=STAFF),
    Op("POST", "/api/v1/merges/{merge_id}/undo", "Undo an accepted merge", "contacts", params=(_id("merge_id"),),
       roles=STAFF),
    Op("GET", "/api/v1/audit", "Who read or changed what", "audit",
       params=(Param("lead_id", "only this lead's entries", {"type": "integer", "minimum": 1}),
               Param("user_id", "only this user's entries", {"type": "integer", "minimum": 1}),
               Param("action", "actions starting with this (e.g. lead.)", {"type": "string"}),
               Param("outcome", "ok, denied or unauthenticated", {"type": "string"}),
               Param("since", "first day", _DAY), Param("until", "last day", _DAY), _FORMAT),
       roles=("supervisor", "admin")),
    Op("GET", "/api/v1/reports/sources", "Source effectiveness: leads, won, lost, conversion per source", "reports",
       params=(Param("since", "first day (default: 30 days ago)", _DAY), Param("until", "last day (default: today)", _DAY),
               _csv("by", "source keys to group by (channel, utm_source, utm_medium, utm_campaign, …)"), _FORMAT),
       roles=STAFF),
    Op("GET", "/api/v1/reports/managers", "Each manager's figures over a period, rated and ranked", "reports",
       params=(Param("from", "first day, the company's (default: 30 days ago)", _DAY),
               Param("to", "last day (default: today)", _DAY),
               Param("period", "today, week or month instead of from/to", {"type": "string"}),
               Param("team", "one team (a manager: their own only)", {"type": "integer", "minimum": 1}),
               Param("queue", "routing figures of one queue", {"type": "string"}), _FORMAT),
       roles=STAFF),
    Op("GET", "/api/v1/agents/{user_id}/activity", "One agent's day: presence and activity spans with reasons",
       "reports", params=(_id("user_id"), Param("day", "the company's day (default: today)", _DAY), _FORMAT)),
    Op("GET", "/api/v1/reports/hourly", "The wallboard's history: offers and leads per hour of a company day",
       "reports", params=(Param("day", "the company's day (default: today)", _DAY), _FORMAT), roles=STAFF),
    Op("GET", "/api/v1/exports/leads", "One row per lead: source, stage, people, SLA and routing's why", "reports",
       params=(Param("from", "first day", _DAY), Param("to", "last day", _DAY), _FORMAT)),
    Op("POST", "/api/v1/calls", "Click-to-call: ring the caller's phone, then dial the client", "voice",
       CallRequest, ok=202),
    Op("GET", "/api/v1/openapi.json", "This document", "meta", public=True),
)

_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "field": {"type": ["string", "null"]}, "message": {"type": "string"}}}}}


def _operation(op: Op, schemas: dict[str, Any]) -> dict[str, Any]:
    responses: dict[str, Any] = {str(op.ok): {"description": "done"}}
    for status, why in (("400", "malformed request"), ("422", "a field is invalid (named in error.field)")):
        responses[status] = {"description": why, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    if not op.public:
        responses["401"] = {"description": "sign in first"}
    if op.roles:
        responses["403"] = {"description": f"needs one of the roles: {', '.join(op.roles)}"}
    name = re.sub(r"\W+", "_", f"{op.method.lower()}{op.path.removeprefix('/api/v1')}").strip("_")
    out: dict[str, Any] = {"summary": op.summary, "tags": [op.tag], "operationId": name, "responses": responses}
    if op.public:
        out["security"] = []
    if op.params:
        out["parameters"] = [{"name": p.name, "in": p.where, "required": p.where == "path",
                              "description": p.description, "schema": p.schema} for p in op.params]
    if op.body is not None:
        schema = op.body.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[op.body.__name__] = schema
        out["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}}}}
    return out


@cache
def document() -> dict[str, Any]:
    schemas: dict[str, Any] = {"Error": _ERROR}
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Switchboard API", "version": "1",
                 "description": "Leads, users, routing and reports. Errors always look like "
                                '{"error": {"code", "field", "message"}}.'},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "the token from POST /api/v1/auth/login"},
            "session": {"type": "apiKey", "in": "cookie", "name": "switchboard_session"}}},
    }


async def serve(_: web.Request) -> web.Response:
    return web.json_response(document())
