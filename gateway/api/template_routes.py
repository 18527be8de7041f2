"""/api/v1/templates: quick replies, shared and personal, found by short code (`/code` in the reply box)."""
from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from crm_store import leads, templates, users
from crm_store.models import ReplyTemplate
from gateway.api.params import path_id, query_id
from gateway.auth import audit_refusals, principal
from gateway.errors import read_model, refuse
from gateway.keys import CLOCK, SESSIONS

routes = web.RouteTableDef()
VARIABLE = re.compile(r"\{(client_name|manager_name|lead_id)\}")


def _checked_texts(value: dict[str, str]) -> dict[str, str]:
    if "default" not in value:
        raise ValueError("texts needs a 'default' text (per-channel variants are optional)")
    for channel, text in value.items():
        if not re.fullmatch(r"[a-z_]{1,20}", channel) or not 0 < len(text) <= 20000:
            raise ValueError(f"texts.{channel[:20]}: a channel name and 1 to 20000 characters")
    return value


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9_-]+$")
    title: str = Field(min_length=1, max_length=200)
    texts: dict[str, str] = Field(min_length=1)      # {"default": "...", "email": "...", "telegram": "..."}
    shared: bool = False

    @field_validator("texts")
    @classmethod
    def _texts(cls, value: dict[str, str]) -> dict[str, str]:
        return _checked_texts(value)


class TemplatePatch(BaseModel):
    """What changes; `texts` replaces the whole set (a variant left out is removed). Shared stays shared."""

    model_config = ConfigDict(extra="forbid")

    code: str | None = Field(None, min_length=1, max_length=40, pattern=r"^[a-z0-9_-]+$")
    title: str | None = Field(None, min_length=1, max_length=200)
    texts: dict[str, str] | None = Field(None, min_length=1)

    @field_validator("texts")
    @classmethod
    def _texts(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return None if value is None else _checked_texts(value)


def render(text: str, values: dict[str, str]) -> str:
    """Only the known variables are filled; anything else in braces stays as written."""
    return VARIABLE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def template_json(row: ReplyTemplate, channel: str | None, values: dict[str, str] | None) -> dict[str, Any]:
    text = row.texts.get(channel or "", row.texts.get("default", ""))
    return {"id": row.id, "code": row.code, "title": row.title, "shared": row.owner_id is None, "texts": row.texts,
            "text": render(text, values) if values is not None else text}


@routes.get("/api/v1/templates")
@audit_refusals("template.search")
async def search_templates(request: web.Request) -> web.Response:
    """`?q=code` (what follows `/` in the reply box), `&lead_id=` to fill the variables for that lead's client."""
    who = principal(request)
    q = request.query.get("q", "").strip().lstrip("/")[:40] or None
    lead_id = query_id(request, "lead_id")
    values: dict[str, str] | None = None
    channel = request.query.get("channel") or None
    async with request.app[SESSIONS]() as session:
        found = await templates.search(session, who.viewer, q)
        if lead_id is not None:
            card = await leads.card(session, who.viewer, lead_id, timeline_limit=1)
            me = await users.get_user(session, who.user_id)
            values = {"client_name": card.contact.display_name or "", "manager_name": me.display_name,
                      "lead_id": str(lead_id)}
            channel = channel or card.lead.channel
    return web.json_response({"items": [template_json(t, channel, values) for t in found]})


@routes.post("/api/v1/templates")
@audit_refusals("template.create")
async def add_template(request: web.Request) -> web.Response:
    who = principal(request)
    body = await read_model(request, TemplateIn)
    async with request.app[SESSIONS]() as session, session.begin():
        row = await templates.create(session, who.viewer, body.code, body.title, body.texts, body.shared,
                                     request.app[CLOCK]())
    return web.json_response(template_json(row, None, None), status=201)


@routes.patch("/api/v1/templates/{template_id:[0-9]+}")
@audit_refusals("template.update")
async def change_template(request: web.Request) -> web.Response:
    """Admins and supervisors change shared templates; anyone their own (another's is not found)."""
    who = principal(request)
    template_id = path_id(request, "template_id", "template")
    body = await read_model(request, TemplatePatch)
    changes = body.model_dump(exclude_unset=True)
    for name in ("code", "title", "texts"):
        if name in changes and changes[name] is None:
            refuse(422, "invalid", f"{name} cannot be null", name)
    async with request.app[SESSIONS]() as session, session.begin():
        row = await templates.update(session, who.viewer, template_id, changes, request.app[CLOCK]())
    return web.json_response(template_json(row, None, None))


@routes.delete("/api/v1/templates/{template_id:[0-9]+}")
@audit_refusals("template.delete")
async def delete_template(request: web.Request) -> web.Response:
    who = principal(request)
    async with request.app[SESSIONS]() as session, session.begin():
        await templates.delete(session, who.viewer, path_id(request, "template_id", "template"), request.app[CLOCK]())
    return web.Response(status=204)
