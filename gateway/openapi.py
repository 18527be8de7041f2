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
from gateway.api.client_routes import ContactPatch, IdentityPatch, Membership, NewIdentity
from gateway.api.company_routes import CompanyIn, LeadCompany
from gateway.api.contact_routes import Decision
from gateway.api.import_routes import MappingIn
from gateway.api.field_routes import DirectoryIn, DirectoryPatch, FieldChange, NewField, ValueIn, ValuePatch
from gateway.api.lead_routes import LeadPatch, NewLead
from gateway.api.pipeline_routes import PipelineIn, PipelinePatch, StageIn, StagePatch
from gateway.api.reply_routes import Reply
from gateway.api.session_routes import Login
from gateway.api.template_routes import TemplateIn, TemplatePatch
from gateway.api.task_routes import NewTaskIn, Preferences, TaskPatch
from gateway.api.team_routes import TeamIn
from gateway.api.user_routes import PasswordChange, PasswordReset, UserIn, UserPatch

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
_PAGE = (Param("limit", "page size", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}),
         Param("offset", "rows to skip", {"type": "integer", "minimum": 0, "default": 0}))
_CONTACT, _IDENTITY, _COMPANY = _id("contact_id"), _id("identity_id"), _id("company_id")
_DIRECTORY = _id("directory_id")
ADMIN = ("admin",)

# The client's page, companies, custom fields and directories (issue 20).
CLIENT_OPERATIONS: tuple[Op, ...] = (
    Op("GET", "/api/v1/contacts/{contact_id}", "The client's page: identities, companies, owner, tags, custom "
       "fields, every lead the caller sees, and the first page of one timeline across them", "clients",
       params=(_CONTACT, _PAGE[0])),
    Op("GET", "/api/v1/contacts/{contact_id}/timeline", "The client's timeline across all leads and channels, "
       "newest first; calls carry direction, who rang and answered, wait, talk, outcome, recording_url", "clients",
       params=(_CONTACT, *_PAGE)),
    Op("PATCH", "/api/v1/contacts/{contact_id}", "Change the client's name, tags, custom fields", "clients",
       ContactPatch, params=(_CONTACT,)),
    Op("POST", "/api/v1/contacts/{contact_id}/identities", "Add a phone, e-mail or messenger id (409 naming the "
       "client who has it already)", "clients", NewIdentity, params=(_CONTACT,), ok=201),
    Op("PATCH", "/api/v1/contacts/{contact_id}/identities/{identity_id}", "Correct a phone, e-mail or messenger id",
       "clients", IdentityPatch, params=(_CONTACT, _IDENTITY)),
    Op("DELETE", "/api/v1/contacts/{contact_id}/identities/{identity_id}", "Remove a phone, e-mail or messenger id",
       "clients", params=(_CONTACT, _IDENTITY), ok=204),
    Op("PUT", "/api/v1/contacts/{contact_id}/companies/{company_id}", "The client belongs to the company "
       "(201 new, 200 position updated)", "clients", Membership, params=(_CONTACT, _COMPANY)),
    Op("DELETE", "/api/v1/contacts/{contact_id}/companies/{company_id}", "The client leaves the company", "clients",
       params=(_CONTACT, _COMPANY), ok=204),
    Op("GET", "/api/v1/calls/{call_id}/recording", "A call's recording (Range requests: 206), to those who may see "
       "its lead; looked up by file name in [voice] recordings_dir", "voice", params=(_id("call_id"),)),
    Op("GET", "/api/v1/companies", "Companies the caller sees; q searches name, tax id, phones, e-mails, addresses",
       "companies", params=(Param("q", "text, tax id or phone to search for", {"type": "string", "maxLength": 200}),
                            *_PAGE)),
    Op("POST", "/api/v1/companies", "Create a company (the creator's and their team's)", "companies", CompanyIn,
       ok=201),
    Op("GET", "/api/v1/companies/{company_id}", "A company with its contacts and leads the caller sees",
       "companies", params=(_COMPANY,)),
    Op("PATCH", "/api/v1/companies/{company_id}", "Change a company", "companies", CompanyIn, params=(_COMPANY,)),
    Op("DELETE", "/api/v1/companies/{company_id}", "Delete a company (soft)", "companies", params=(_COMPANY,),
       ok=204),
    Op("PUT", "/api/v1/leads/{lead_id}/company", "The lead's company (null: none)", "companies", LeadCompany,
       params=(_id("lead_id"),)),
    Op("GET", "/api/v1/fields", "Custom field definitions", "fields",
       params=(Param("entity", "only this entity's", {"type": "string", "enum": ["lead", "contact", "company"]}),)),
    Op("POST", "/api/v1/fields", "Define a custom field (text, number, money, date, choice, multi_choice, "
       "directory)", "fields", NewField, roles=ADMIN, ok=201),
    Op("PATCH", "/api/v1/fields/{field_id}", "Change or retire (active: false) a custom field", "fields",
       FieldChange, params=(_id("field_id"),), roles=ADMIN),
    Op("GET", "/api/v1/directories", "Directories (cities, industries, …) with their values", "fields"),
    Op("POST", "/api/v1/directories", "Create a directory", "fields", DirectoryIn, roles=ADMIN, ok=201),
    Op("PATCH", "/api/v1/directories/{directory_id}", "Rename a directory", "fields", DirectoryPatch,
       params=(_DIRECTORY,), roles=ADMIN),
    Op("POST", "/api/v1/directories/{directory_id}/values", "Add a value to a directory", "fields", ValueIn,
       params=(_DIRECTORY,), roles=ADMIN, ok=201),
    Op("PATCH", "/api/v1/directories/{directory_id}/values/{value_id}", "Rename or retire a directory value",
       "fields", ValuePatch, params=(_DIRECTORY, _id("value_id")), roles=ADMIN),
)
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
        Param("view", "'mine' (my open leads), 'unassigned' (waiting work of my team's queues) or 'all'",
              {"type": "string", "enum": ["mine", "unassigned", "all"]}),
        Param("q", "text, phone or e-mail to search for", {"type": "string", "maxLength": 200}),
        Param("limit", "page size", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}),
        Param("offset", "rows to skip", {"type": "integer", "minimum": 0, "default": 0}),
        Param("before", "the next page: the `next` the previous page returned ('<time>,<lead id>')",
              {"type": "string"}))),
    Op("GET", "/api/v1/leads/counts", "The console's tabs: {mine, unassigned}, and for supervisors {all} open", "leads"),
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
    Op("POST", "/api/v1/users/{user_id}/password", "Reset a password: the new one-time password is in the answer, "
       "once; the user's sign-ins end", "users", PasswordReset, params=(_id("user_id"),), roles=("admin",)),
    Op("POST", "/api/v1/me/password", "Choose one's own password (after an admin's reset: the only thing allowed); "
       "other sign-ins end", "users", PasswordChange),
    Op("GET", "/api/v1/teams", "Teams with their active members (others than supervisors and admins: their own)",
       "users"),
    Op("POST", "/api/v1/teams", "Create a team", "users", TeamIn, roles=("admin",), ok=201),
    Op("PATCH", "/api/v1/teams/{team_id}", "Rename a team", "users", TeamIn, params=(_id("team_id"),),
       roles=("admin",)),
    Op("DELETE", "/api/v1/teams/{team_id}", "Delete a team nobody and nothing belongs to (409 otherwise)", "users",
       params=(_id("team_id"),), roles=("admin",), ok=204),
    Op("GET", "/api/v1/merge-suggestions", "Contacts that look like the same client", "contacts", roles=STAFF),
    Op("POST", "/api/v1/merge-suggestions/{suggestion_id}/{decision}", "Accept or reject a merge", "contacts",
       Decision, params=(_id("suggestion_id"),
                         Param("decision", "what to do", {"type": "string", "enum": ["accept", "reject"]}, "path")),
       roles=STAFF),
    Op("POST", "/api/v1/merges/{merge_id}/undo", "Undo an accepted merge", "contacts", params=(_id("merge_id"),),
       roles=STAFF),
    *CLIENT_OPERATIONS,
    Op("GET", "/api/v1/audit", "Who read or changed what", "audit",
       params=(Param("lead_id", "only this lead's entries", {"type": "integer", "minimum": 1}),
               Param("contact_id", "only this client's entries", {"type": "integer", "minimum": 1}),
               Param("before", "entries older than this id (the next page)", {"type": "integer", "minimum": 1}),
               Param("limit", "page size", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}),
               Param("user_id", "only this user's entries", {"type": "integer", "minimum": 1}),
               Param("action", "actions starting with this (e.g. lead.)", {"type": "string"}),
               Param("outcome", "ok, denied or unauthenticated", {"type": "string"}),
               Param("since", "first day", _DAY), Param("until", "last day", _DAY), _FORMAT),
       roles=("supervisor", "admin")),
    Op("GET", "/api/v1/reports/sources", "Source effectiveness: leads, won, lost, conversion per source", "reports",
       params=(Param("since", "first day (default: 30 days ago)", _DAY), Param("until", "last day (default: today)", _DAY),
               _csv("by", "source keys to group by (channel, utm_source, utm_medium, utm_campaign, …)"), _FORMAT),
       roles=STAFF),
    Op("GET", "/api/v1/pipelines", "Funnels with their stages in order (?retired=1: retired stages too)",
       "pipelines"),
    Op("POST", "/api/v1/pipelines", "Create a funnel (no stages given: New, Won, Lost, Closed)", "pipelines",
       PipelineIn, roles=("admin",), ok=201),
    Op("PATCH", "/api/v1/pipelines/{pipeline_id}", "Rename a funnel", "pipelines", PipelinePatch,
       params=(_id("pipeline_id"),), roles=("admin",)),
    Op("POST", "/api/v1/pipelines/{pipeline_id}/stages", "Add a stage (kind, required fields, deadline)",
       "pipelines", StageIn, params=(_id("pipeline_id"),), roles=("admin",), ok=201),
    Op("PATCH", "/api/v1/pipelines/{pipeline_id}/stages/{stage_id}", "Rename, reorder, change rules, retire a stage",
       "pipelines", StagePatch, params=(_id("pipeline_id"), _id("stage_id")), roles=("admin",)),
    Op("GET", "/api/v1/pipelines/{pipeline_id}/board", "The board: per stage a count, amounts and a page of cards",
       "pipelines", params=(_id("pipeline_id"),
                            Param("owner", "'me' or a user id (the assignee)", {"type": "string"}),
                            Param("team", "a team id", {"type": "integer", "minimum": 1}),
                            Param("source", "the channel that opened the lead", {"type": "string"}),
                            Param("stage_id", "one column only (its next page)", {"type": "integer", "minimum": 1}),
                            Param("limit", "cards per column", {"type": "integer", "minimum": 1, "maximum": 100,
                                                                "default": 20}),
                            Param("offset", "cards to skip per column", {"type": "integer", "minimum": 0}))),
    Op("GET", "/api/v1/reports/funnel", "Funnel: entered per stage, conversion, amounts won and lost, lost reasons, "
       "time in stage", "reports",
       params=(Param("pipeline", "the pipeline's id", {"type": "integer", "minimum": 1}),
               Param("from", "first day of lead creation (default: 90 days ago)", _DAY),
               Param("to", "last day (default: today)", _DAY),
               Param("by", "also per manager or per source", {"type": "string", "enum": ["manager", "source"]}),
               _FORMAT),
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
    Op("GET", "/api/v1/tasks", "Open tasks: mine, overdue (supervisors: everyone's) or team; or a lead's / client's",
       "tasks", params=(Param("view", "which list", {"type": "string", "enum": ["mine", "overdue", "team"]}),
                        Param("lead_id", "only this lead's tasks (done ones too)", {"type": "integer", "minimum": 1}),
                        Param("contact_id", "only this client's tasks", {"type": "integer", "minimum": 1}),
                        Param("limit", "page size", {"type": "integer", "minimum": 1, "maximum": 500}))),
    Op("GET", "/api/v1/tasks/counts", "My tasks overdue, due today, later: the header's numbers", "tasks"),
    Op("GET", "/api/v1/tasks/quick", "The quick due choices (in 1 hour, tomorrow 10:00, next Monday 10:00)", "tasks"),
    Op("POST", "/api/v1/tasks", "A task on a lead or a client", "tasks", NewTaskIn, ok=201),
    Op("PATCH", "/api/v1/tasks/{task_id}", "Done (with a result), due time, assignee, note", "tasks", TaskPatch,
       params=(_id("task_id"),)),
    Op("PATCH", "/api/v1/me", "My own preferences: language, time zone, where reminders reach me", "session", Preferences),
    Op("GET", "/api/v1/templates", "Quick replies (shared and mine) by short code; filled in for a lead", "templates",
       params=(Param("q", "the short code typed after '/'", {"type": "string", "maxLength": 40}),
               Param("lead_id", "fill {client_name}, {manager_name}, {lead_id} for this lead",
                     {"type": "integer", "minimum": 1}),
               Param("channel", "the channel's own text where one differs", {"type": "string"}))),
    Op("POST", "/api/v1/templates", "A quick reply (shared: supervisors and admins)", "templates", TemplateIn, ok=201),
    Op("PATCH", "/api/v1/templates/{template_id}", "Change a quick reply's code, title or texts (shared: "
       "supervisors and admins; personal: its owner)", "templates", TemplatePatch, params=(_id("template_id"),)),
    Op("DELETE", "/api/v1/templates/{template_id}", "Delete a quick reply", "templates", params=(_id("template_id"),),
       ok=204),
    Op("POST", "/api/v1/imports", "Upload a CSV or XLSX file (multipart: file, sheet): its columns, the mapping "
       "guessed from their names, the first rows as they would be stored", "imports", roles=ADMIN, ok=201),
    Op("POST", "/api/v1/imports/{import_id}/preview", "The first rows as this mapping would store them", "imports",
       MappingIn, params=(_id("import_id"),), roles=ADMIN),
    Op("POST", "/api/v1/imports/{import_id}/run", "Run the import in the background (or rehearse it: dry_run); "
       "progress arrives as import.progress frames", "imports", MappingIn, params=(_id("import_id"),), roles=ADMIN,
       ok=202),
    Op("GET", "/api/v1/imports/{import_id}", "The job: state, rows, done, created, joined, skipped, invalid",
       "imports", params=(_id("import_id"),), roles=ADMIN),
    Op("POST", "/api/v1/imports/{import_id}/cancel", "Stop after the batch in progress", "imports",
       params=(_id("import_id"),), roles=ADMIN),
    Op("GET", "/api/v1/imports/{import_id}/rejects.csv", "The refused rows with the reason for each", "imports",
       params=(_id("import_id"),), roles=ADMIN),
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
