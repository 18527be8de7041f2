"""/api/v1/pipelines: funnels and their stages (admins change them), the board, and the funnel report."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from crm_store import audit, board, funnel, pipelines
from crm_store.types import Role
from gateway.api.params import path_id, query_day, query_id, query_int
from gateway.api.serialize import iso
from gateway.auth import client_ip, principal, require_role
from gateway.errors import read_model, refuse
from gateway.exports import chunks_of, send_table, wanted_format
from gateway.tasks.wiring import CLOCKS
from gateway.keys import CLOCK, SESSIONS

routes = web.RouteTableDef()
STAFF = (Role.MANAGER, Role.SUPERVISOR, Role.ADMIN)
FieldKey = Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_.-]+$")


class StageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: Literal["open", "won", "lost", "closed"] = "open"
    position: int | None = Field(None, ge=0, le=1000)
    required_fields: list[str] = Field(default_factory=list, max_length=30)
    deadline_hours: float | None = Field(None, gt=0, le=24 * 365)


class StagePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    position: int | None = Field(None, ge=0, le=1000)
    required_fields: list[str] | None = Field(None, max_length=30)
    deadline_hours: float | None = Field(None, gt=0, le=24 * 365)
    retired: bool | None = None


class PipelineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=200)
    stages: list[StageIn] = Field(default_factory=list, max_length=50)


class PipelinePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)


def stage_json(stage: Any) -> dict[str, Any]:
    return {"id": stage.id, "name": stage.name, "kind": stage.kind, "position": stage.position,
            "status": stage.status, "required_fields": list(stage.required_fields or ()),
            "deadline_hours": stage.deadline_hours, "retired": stage.retired}


def funnel_json(found: pipelines.Funnel) -> dict[str, Any]:
    p = found.pipeline
    return {"id": p.id, "key": p.key, "name": p.name, "position": p.position,
            "stages": [stage_json(s) for s in found.stages]}


def _check_fields(names: list[str] | None) -> None:
    for i, name in enumerate(names or ()):
        if not name or len(name) > 60 or not name.replace("_", "").replace("-", "").replace(".", "").isalnum():
            refuse(422, "invalid", "a required field is a field key (letters, digits, _ - .)", f"required_fields.{i}")


async def _admin_change(request: web.Request, action: str, work: Any) -> Any:
    """An admin's change, audited with what it did, committed before the answer."""
    who = await require_role(request, Role.ADMIN)
    async with request.app[SESSIONS]() as session, session.begin():
        result, detail = await work(session)
        audit.record(session, action, request.app[CLOCK](), user_id=who.user_id, ip=client_ip(request), detail=detail)
        return result


@routes.get("/api/v1/pipelines")
async def list_pipelines(request: web.Request) -> web.Response:
    principal(request)
    retired = request.query.get("retired") in ("1", "true")
    async with request.app[SESSIONS]() as session:
        found = await pipelines.funnels(session, retired=retired)
    return web.json_response({"items": [funnel_json(f) for f in found]})


@routes.post("/api/v1/pipelines")
async def create_pipeline(request: web.Request) -> web.Response:
    body = await read_model(request, PipelineIn)
    for i, stage in enumerate(body.stages):
        _check_fields(stage.required_fields)
        del i

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        specs = [pipelines.StageSpec(name=s.name, kind=s.kind, required_fields=tuple(s.required_fields),
                                     deadline_hours=s.deadline_hours) for s in body.stages]
        found = await pipelines.create_pipeline(session, body.key, body.name, specs, request.app[CLOCK]())
        return funnel_json(found), {"pipeline_id": found.pipeline.id, "key": body.key, "name": body.name}

    return web.json_response(await _admin_change(request, "pipeline.create", work), status=201)


@routes.patch("/api/v1/pipelines/{pipeline_id:[0-9]+}")
async def rename_pipeline(request: web.Request) -> web.Response:
    pipeline_id = path_id(request, "pipeline_id", "pipeline")
    body = await read_model(request, PipelinePatch)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        found = await pipelines.rename_pipeline(session, pipeline_id, body.name)
        return funnel_json(found), {"pipeline_id": pipeline_id, "name": body.name}

    return web.json_response(await _admin_change(request, "pipeline.update", work))


@routes.post("/api/v1/pipelines/{pipeline_id:[0-9]+}/stages")
async def add_stage(request: web.Request) -> web.Response:
    pipeline_id = path_id(request, "pipeline_id", "pipeline")
    body = await read_model(request, StageIn)
    _check_fields(body.required_fields)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        spec = pipelines.StageSpec(name=body.name, kind=body.kind, position=body.position,
                                   required_fields=tuple(body.required_fields), deadline_hours=body.deadline_hours)
        stage = await pipelines.add_stage(session, pipeline_id, spec, request.app[CLOCK]())
        return stage_json(stage), {"pipeline_id": pipeline_id, "stage_id": stage.id, **body.model_dump()}

    return web.json_response(await _admin_change(request, "stage.create", work), status=201)


@routes.patch("/api/v1/pipelines/{pipeline_id:[0-9]+}/stages/{stage_id:[0-9]+}")
async def change_stage(request: web.Request) -> web.Response:
    pipeline_id = path_id(request, "pipeline_id", "pipeline")
    stage_id = path_id(request, "stage_id", "stage")
    body = await read_model(request, StagePatch)
    given = body.model_dump(exclude_unset=True)
    _check_fields(body.required_fields)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        spec = pipelines.StageSpec(
            name=body.name, position=body.position, retired=body.retired, deadline_hours=body.deadline_hours,
            required_fields=tuple(body.required_fields) if body.required_fields is not None else None,
            clear_deadline="deadline_hours" in given and body.deadline_hours is None)
        stage = await pipelines.change_stage(session, pipeline_id, stage_id, spec)
        return stage_json(stage), {"pipeline_id": pipeline_id, "stage_id": stage_id, "changes": given}

    return web.json_response(await _admin_change(request, "stage.update", work))


@routes.get("/api/v1/pipelines/{pipeline_id:[0-9]+}/board")
async def get_board(request: web.Request) -> web.Response:
    """Columns = live stages: count and amounts over every lead the caller may see, and a page of cards."""
    who = principal(request)
    owner = request.query.get("owner")
    f = board.BoardFilter(
        pipeline_id=path_id(request, "pipeline_id", "pipeline"),
        owner_id=who.user_id if owner == "me" else query_id(request, "owner"),
        team_id=query_id(request, "team"), source=request.query.get("source", "").strip()[:20] or None,
        stage_id=query_id(request, "stage_id"), limit=query_int(request, "limit", 20, 1, 100),
        offset=query_int(request, "offset", 0, 0, 1_000_000))
    now = request.app[CLOCK]()
    async with request.app[SESSIONS]() as session, session.begin():
        found = await board.board(session, who.viewer, f)
        shown = [lead.id for c in found.columns for lead in c.leads]
        audit.record(session, "board.read", now, user_id=who.user_id, ip=client_ip(request),
                     detail={"query": dict(request.query), "pipeline_id": f.pipeline_id, "lead_ids": shown})
        columns = [{
            "stage": stage_json(c.stage), "count": c.count, "amounts": c.amounts,
            "cards": [{
                "id": lead.id, "contact_id": lead.contact_id, "client": found.names.get(lead.contact_id),
                "subject": lead.subject, "amount": lead.amount, "currency": lead.currency, "status": lead.status,
                "assignee_id": lead.assignee_id, "owner": found.people.get(lead.assignee_id or 0),
                "channel": lead.channel, "created_at": iso(lead.created_at),
                "stage_entered_at": iso(lead.stage_entered_at),
                "due_at": iso(pipelines.deadline_of(lead, c.stage)),
                "overdue": bool(pipelines.deadline_of(lead, c.stage) and pipelines.deadline_of(lead, c.stage) < now),
                "next_task": _next_task(found.next_tasks.get(lead.id), now),
            } for lead in c.leads]} for c in found.columns]
    # The response clock of each card whose client waits for an answer (at risk or overdue is drawn on it).
    responses = await request.app[CLOCKS].views(shown)
    for column in columns:
        for item in column["cards"]:
            item["response"] = responses.get(item["id"])
    return web.json_response({"pipeline_id": f.pipeline_id, "limit": f.limit, "offset": f.offset,
                              "columns": columns})


def _next_task(task: Any, now: datetime) -> dict[str, Any] | None:
    if task is None:
        return None
    return {"id": task.id, "kind": task.kind, "due_at": iso(task.due_at), "overdue": task.due_at < now,
            "note": task.note[:200]}


FUNNEL_COLUMNS = ("stage", "kind", "entered", "to_next", "median_hours", "p90_hours", "lost_reasons")


@routes.get("/api/v1/reports/funnel")
async def funnel_report(request: web.Request) -> web.StreamResponse:
    await require_role(request, *STAFF)
    pipeline_id = query_id(request, "pipeline")
    if pipeline_id is None:
        refuse(422, "required", "pipeline (an id) is required", "pipeline")
    today = request.app[CLOCK]().date()
    since = query_day(request, "from", today - timedelta(days=90))
    until = query_day(request, "to", today) + timedelta(days=1)
    if until <= since:
        refuse(422, "invalid", "to must not be before from", "to")
    by = request.query.get("by") or None
    if by not in (None, "manager", "source"):
        refuse(422, "invalid", "by is 'manager' or 'source'", "by")
    who = principal(request)
    fmt = wanted_format(request)
    async with request.app[SESSIONS]() as session, session.begin():
        body = await funnel.report(session, who.viewer, pipeline_id, since, until, by)
        audit.record(session, "report.funnel", request.app[CLOCK](), user_id=who.user_id, ip=client_ip(request),
                     detail={"query": dict(request.query)})
    if fmt:
        table = [[s["name"], s["kind"], s["entered"], s.get("to_next"), s.get("median_hours"), s.get("p90_hours"),
                  "; ".join(f"{k or '-'}={n}" for k, n in (s.get("lost_reasons") or {}).items())]
                 for s in body["stages"]]
        return await send_table(request, f"funnel-{pipeline_id}-{since.date()}-{(until - timedelta(days=1)).date()}",
                                fmt, FUNNEL_COLUMNS, chunks_of(table))
    return web.json_response({"from": since.date().isoformat(), "to": (until - timedelta(days=1)).date().isoformat(),
                              **body})
