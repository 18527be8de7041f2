"""POST /api/v1/calls: click-to-call. The operator's phone rings first; when they pick up, the client is dialled."""
from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from channels.asterisk.adapter import PbxUnavailable
from channels.identity import InvalidIdentity, normalize_phone
from crm_store import audit, leads, users
from gateway.api.params import DbId
from gateway.auth import client_ip, principal
from gateway.errors import read_model, refuse
from gateway.keys import AMI, CLOCK, SESSIONS, SETTINGS, VOICE

routes = web.RouteTableDef()


class CallRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lead_id: DbId
    number: str | None = Field(None, min_length=3, max_length=40)   # default: the lead's client's phone


@routes.post("/api/v1/calls")
async def click_to_call(request: web.Request) -> web.Response:
    who = principal(request)
    body = await read_model(request, CallRequest)
    if AMI not in request.app:
        refuse(503, "voice_off", "voice is not configured ([ami] settings)")
    region = request.app[SETTINGS].phone.region
    async with request.app[SESSIONS]() as session, session.begin():
        user = await users.find_user(session, who.user_id)
        if user is None or not user.extension:
            refuse(409, "no_extension", "you have no phone extension; an admin can set one", field="extension")
        card = await leads.card(session, who.viewer, body.lead_id, timeline_limit=0)
        number = _number(body.number, [i.value for i in card.identities if i.kind == "phone"], region)
        name = card.contact.display_name
        audit.record(session, "lead.call", request.app[CLOCK](), user_id=who.user_id, lead_id=body.lead_id,
                     ip=client_ip(request), detail={"number": number})
    try:
        call_id = await request.app[AMI].originate(user.extension, number, lead_id=body.lead_id, caller_name=name)
    except PbxUnavailable as exc:
        refuse(503, "pbx_unavailable", str(exc))
    request.app[VOICE].originated[call_id] = who.user_id
    return web.json_response({"call_id": call_id, "extension": user.extension, "number": number}, status=202)


def _number(given: str | None, phones: list[str], region: str) -> str:
    if given is None:
        if not phones:
            refuse(422, "invalid", "the lead's client has no phone number; give one", field="number")
        return phones[0]
    try:
        return normalize_phone(given, region)
    except InvalidIdentity:
        refuse(422, "invalid", f"{given!r} is not a phone number", field="number")
