"""/api/v1/fields and /api/v1/directories: custom fields of leads, contacts and companies, and the value
lists some of them link to. Everyone reads them (the screens draw their forms from them); admins change them."""
from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from crm_store import fields
from crm_store.fields import Entity, FieldSpec, Kind
from crm_store.types import LeadStatus, Role
from gateway.api.audited import audited
from gateway.api.client_json import directory_json, field_json
from gateway.api.params import DbId, path_id
from gateway.auth import require_role
from gateway.errors import read_model, refuse
from gateway.keys import SESSIONS

routes = web.RouteTableDef()


class FieldChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(None, min_length=1, max_length=200)
    label_ru: str | None = Field(None, max_length=200)
    kind: Kind | None = None
    choices: list[str] | None = Field(None, max_length=200)
    directory_id: DbId | None = None
    currency: str | None = Field(None, max_length=3)
    required: bool | None = None
    required_at: list[LeadStatus] | None = None
    position: int | None = Field(None, ge=0, le=10000)
    active: bool | None = None

    def spec(self) -> FieldSpec:
        return FieldSpec(label=self.label, label_ru=self.label_ru, kind=self.kind,
                         choices=tuple(c[:200] for c in self.choices) if self.choices is not None else None,
                         directory_id=self.directory_id, currency=self.currency, required=self.required,
                         required_at=tuple(s.value for s in self.required_at) if self.required_at is not None else None,
                         position=self.position, active=self.active)


class NewField(FieldChange):
    entity: Entity
    name: str = Field(min_length=1, max_length=60)
    label: str = Field(min_length=1, max_length=200)
    kind: Kind = Kind.TEXT


class DirectoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=60)
    label: str = Field(min_length=1, max_length=200)
    label_ru: str | None = Field(None, max_length=200)
    values: list[str] = Field(default_factory=list, max_length=1000)


class DirectoryPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str | None = Field(None, min_length=1, max_length=200)
    label_ru: str | None = Field(None, max_length=200)


class ValueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str = Field(min_length=1, max_length=300)


class ValuePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str | None = Field(None, min_length=1, max_length=300)
    active: bool | None = None


@routes.get("/api/v1/fields")
async def list_fields(request: web.Request) -> web.Response:
    raw = request.query.get("entity")
    if raw is not None and raw not in {e.value for e in Entity}:
        refuse(422, "invalid", "entity is lead, contact or company", "entity")
    async with request.app[SESSIONS]() as session:
        found = await fields.definitions(session, Entity(raw) if raw else None)
        return web.json_response({"items": [field_json(d) for d in found]})


@routes.post("/api/v1/fields")
async def add_field(request: web.Request) -> web.Response:
    await require_role(request, Role.ADMIN)
    body = await read_model(request, NewField)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        row = await fields.add_definition(session, body.entity, body.name, body.spec())
        return field_json(row), {"field": field_json(row)}

    return web.json_response(await audited(request, "field.create", work), status=201)


@routes.patch("/api/v1/fields/{field_id}")
async def change_field(request: web.Request) -> web.Response:
    await require_role(request, Role.ADMIN)
    field_id = path_id(request, "field_id", "field")
    body = await read_model(request, FieldChange)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        row, diff = await fields.change_definition(session, field_id, body.spec())
        return field_json(row), {"field_id": field_id, "changes": diff}

    return web.json_response(await audited(request, "field.update", work))


@routes.get("/api/v1/directories")
async def list_directories(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session:
        return web.json_response({"items": [directory_json(d, v) for d, v in await fields.directories(session)]})


@routes.post("/api/v1/directories")
async def add_directory(request: web.Request) -> web.Response:
    await require_role(request, Role.ADMIN)
    body = await read_model(request, DirectoryIn)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        row = await fields.add_directory(session, body.name, body.label, body.label_ru, body.values)
        found = dict(await fields.directories(session))
        return directory_json(row, found.get(row, [])), {"directory_id": row.id, "name": row.name}

    return web.json_response(await audited(request, "directory.create", work), status=201)


@routes.patch("/api/v1/directories/{directory_id}")
async def change_directory(request: web.Request) -> web.Response:
    await require_role(request, Role.ADMIN)
    directory_id = path_id(request, "directory_id", "directory")
    body = await read_model(request, DirectoryPatch)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        row = await fields.change_directory(session, directory_id, body.label, body.label_ru)
        found = dict(await fields.directories(session))
        return directory_json(row, found.get(row, [])), {"directory_id": directory_id,
                                                         "changes": body.model_dump(exclude_unset=True)}

    return web.json_response(await audited(request, "directory.update", work))


@routes.post("/api/v1/directories/{directory_id}/values")
async def add_value(request: web.Request) -> web.Response:
    await require_role(request, Role.ADMIN)
    directory_id = path_id(request, "directory_id", "directory")
    body = await read_model(request, ValueIn)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        row = await fields.add_value(session, directory_id, body.value)
        return {"id": row.id, "value": row.value, "active": row.active}, {"directory_id": directory_id,
                                                                          "value": row.value}

    return web.json_response(await audited(request, "directory.value.add", work), status=201)


@routes.patch("/api/v1/directories/{directory_id}/values/{value_id}")
async def change_value(request: web.Request) -> web.Response:
    await require_role(request, Role.ADMIN)
    directory_id = path_id(request, "directory_id", "directory")
    value_id = path_id(request, "value_id", "directory value")
    body = await read_model(request, ValuePatch)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        row = await fields.change_value(session, directory_id, value_id, body.value, body.active)
        return {"id": row.id, "value": row.value, "active": row.active}, {
            "directory_id": directory_id, "value_id": value_id, "changes": body.model_dump(exclude_unset=True)}

    return web.json_response(await audited(request, "directory.value.update", work))
