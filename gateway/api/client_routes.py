"""/api/v1/contacts/{id}: the client's page, its phones, e-mails and messenger ids, its companies; and
/api/v1/calls/{id}/recording. Every read and change is audited; another team's client is not found."""
from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from channels.identity import InvalidIdentity, normalize_email, normalize_phone
from crm_store import clients, companies
from gateway import recordings
from gateway.api.audited import audited
from gateway.api.client_json import client_page_json, timeline_json
from gateway.api.params import path_id, query_int
from gateway.api.serialize import identity_json
from gateway.auth import principal
from gateway.errors import read_model, refuse
from gateway.keys import CLOCK, SETTINGS

routes = web.RouteTableDef()
TIMELINE_PAGE = 50


class ContactPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str | None = Field(None, max_length=300)
    tags: list[str] | None = Field(None, max_length=100)
    fields: dict[str, Any] | None = None


class NewIdentity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["phone", "email", "telegram", "whatsapp", "viber"]
    value: str = Field(min_length=1, max_length=320)


class IdentityPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: str = Field(min_length=1, max_length=320)


class Membership(BaseModel):
    model_config = ConfigDict(extra="forbid")

    position: str | None = Field(None, max_length=200)


def _contact_id(request: web.Request) -> int:
    return path_id(request, "contact_id", "client")


def _normalized(request: web.Request, kind: str, value: str) -> str:
    """Phones to E.164 read in the installation's region, e-mails to one spelling; 422 naming `value`."""
    try:
        if kind == "phone":
            return normalize_phone(value, request.app[SETTINGS].phone.region)
        if kind == "email":
            return normalize_email(value)
    except InvalidIdentity as exc:
        refuse(422, "invalid", f"{kind}: {exc}", "value")
    return value.strip()


async def _timeline(session: Any, request: web.Request, contact_id: int, limit: int, offset: int) -> dict[str, Any]:
    items, more = await clients.timeline(session, principal(request).viewer, contact_id, limit=limit, offset=offset)
    by_id, by_extension = await clients.staff_of_calls(session, items)
    return {"items": timeline_json(items, by_id, by_extension), "limit": limit, "offset": offset, "more": more}


@routes.get("/api/v1/contacts/{contact_id}")
async def get_contact(request: web.Request) -> web.Response:
    contact_id, who = _contact_id(request), principal(request)
    limit = query_int(request, "limit", TIMELINE_PAGE, 1, 200)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        page = await clients.page(session, who.viewer, contact_id)
        body = {**client_page_json(page), "timeline": await _timeline(session, request, contact_id, limit, 0)}
        return body, {"lead_ids": [x.id for x in page.leads]}

    return web.json_response(await audited(request, "contact.read", work, contact_id=contact_id))


@routes.get("/api/v1/contacts/{contact_id}/timeline")
async def get_timeline(request: web.Request) -> web.Response:
    contact_id = _contact_id(request)
    limit = query_int(request, "limit", TIMELINE_PAGE, 1, 200)
    offset = query_int(request, "offset", 0, 0, 1_000_000)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        body = await _timeline(session, request, contact_id, limit, offset)
        return body, {"offset": offset, "count": len(body["items"])}

    return web.json_response(await audited(request, "contact.timeline", work, contact_id=contact_id))


@routes.patch("/api/v1/contacts/{contact_id}")
async def patch_contact(request: web.Request) -> web.Response:
    contact_id, who = _contact_id(request), principal(request)
    body = await read_model(request, ContactPatch)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        diff = await clients.update_contact(session, who.viewer, contact_id, request.app[CLOCK](),
                                            display_name=body.display_name, tags=body.tags, fields=body.fields)
        return client_page_json(await clients.page(session, who.viewer, contact_id)), {"changes": diff}

    return web.json_response(await audited(request, "contact.update", work, contact_id=contact_id))


@routes.post("/api/v1/contacts/{contact_id}/identities")
async def add_identity(request: web.Request) -> web.Response:
    contact_id, who = _contact_id(request), principal(request)
    body = await read_model(request, NewIdentity)
    value = _normalized(request, body.kind, body.value)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        row = await clients.add_identity(session, who.viewer, contact_id, body.kind, value, request.app[CLOCK]())
        return identity_json(row), {"identity_id": row.id, "kind": row.kind, "value": [None, row.value]}

    return web.json_response(await audited(request, "contact.identity.add", work, contact_id=contact_id), status=201)


@routes.patch("/api/v1/contacts/{contact_id}/identities/{identity_id}")
async def change_identity(request: web.Request) -> web.Response:
    contact_id, who = _contact_id(request), principal(request)
    identity_id = path_id(request, "identity_id", "identity")
    body = await read_model(request, IdentityPatch)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        kind = await clients.identity_kind(session, who.viewer, contact_id, identity_id)
        row, old = await clients.change_identity(session, who.viewer, contact_id, identity_id,
                                                 _normalized(request, kind, body.value), request.app[CLOCK]())
        return identity_json(row), {"identity_id": row.id, "kind": row.kind, "value": [old, row.value]}

    return web.json_response(await audited(request, "contact.identity.change", work, contact_id=contact_id))


@routes.delete("/api/v1/contacts/{contact_id}/identities/{identity_id}")
async def remove_identity(request: web.Request) -> web.Response:
    contact_id, who = _contact_id(request), principal(request)
    identity_id = path_id(request, "identity_id", "identity")

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        row = await clients.remove_identity(session, who.viewer, contact_id, identity_id, request.app[CLOCK]())
        return None, {"identity_id": identity_id, "kind": row.kind, "value": [row.value, None]}

    await audited(request, "contact.identity.remove", work, contact_id=contact_id)
    return web.Response(status=204)


@routes.put("/api/v1/contacts/{contact_id}/companies/{company_id}")
async def join_company(request: web.Request) -> web.Response:
    contact_id, who = _contact_id(request), principal(request)
    company_id = path_id(request, "company_id", "company")
    body = await read_model(request, Membership)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        new = await companies.link_contact(session, who.viewer, contact_id, company_id, body.position,
                                           request.app[CLOCK]())
        return new, {"company_id": company_id, "position": body.position, "new": new}

    new = await audited(request, "contact.company.join", work, contact_id=contact_id)
    return web.json_response({"contact_id": contact_id, "company_id": company_id, "position": body.position},
                             status=201 if new else 200)


@routes.delete("/api/v1/contacts/{contact_id}/companies/{company_id}")
async def leave_company(request: web.Request) -> web.Response:
    contact_id, who = _contact_id(request), principal(request)
    company_id = path_id(request, "company_id", "company")

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        await companies.unlink_contact(session, who.viewer, contact_id, company_id)
        return None, {"company_id": company_id}

    await audited(request, "contact.company.leave", work, contact_id=contact_id)
    return web.Response(status=204)


@routes.get("/api/v1/calls/{call_id}/recording")
async def call_recording(request: web.Request) -> web.StreamResponse:
    """The call's recording, with Range requests (a player seeks); only to those who may see the call's lead."""
    call_id, who = path_id(request, "call_id", "call"), principal(request)
    folder = request.app[SETTINGS].voice.recordings_dir

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        item, name = await clients.call_recording(session, who.viewer, call_id)
        path = recordings.find(folder, name)
        detail = {"call_id": call_id, "lead_id": item.lead_id, "range": request.headers.get("Range", "")[:100],
                  "found": path is not None}
        return (path, item.lead_id), detail

    path, lead_id = await audited(request, "call.recording", work)
    if path is None:
        refuse(404, "not_found", f"the recording of call {call_id} is not in the recordings folder")
    return web.FileResponse(path, headers={"Content-Type": recordings.content_type(path),
                                           "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})
