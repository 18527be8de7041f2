"""POST /api/v1/leads/{id}/reply: answer through the channel the client wrote on."""
from __future__ import annotations

import uuid

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from channels.types import OutboundMessage
from crm_store import audit, leads, outbound
from gateway.api.params import path_id
from gateway.auth import audit_refusals, client_ip, principal
from gateway.errors import read_model, refuse
from gateway.keys import CLOCK, ROUTING, PERMISSIONS, RESPONDERS, SESSIONS
from gateway.tasks.reached import client_reached

routes = web.RouteTableDef()


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=20000)
    subject: str | None = Field(None, max_length=500)


@routes.post("/api/v1/leads/{lead_id:[0-9]+}/reply")
@audit_refusals("lead.reply")
async def reply(request: web.Request) -> web.Response:
    who, lead_id = principal(request), path_id(request, "lead_id", "lead")
    body = await read_model(request, Reply)
    responders = request.app[RESPONDERS]
    now = request.app[CLOCK]()
    message_id = uuid.uuid4().hex
    async with request.app[SESSIONS]() as session, session.begin():
        lead = await leads.get_visible(session, who.viewer, lead_id)
        if not leads.is_own(who.viewer, lead) and who.role not in request.app[PERMISSIONS].edit_others:
            refuse(403, "forbidden", "only the lead's manager may answer this client")
        target = await outbound.reply_target(session, lead_id, frozenset(responders))
        attributes = target.attributes
        references = tuple(attributes.get("references", "").split())
        in_reply_to = attributes.get("message_id")
        subject = body.subject or lead.subject or target.subject
        item = await outbound.record_reply(session, lead_id, target, f"out:{message_id}", body.text, subject,
                                           who.user_id, {"message_id": message_id, "to": target.to}, now)
        audit.record(session, "lead.reply", now, user_id=who.user_id, lead_id=lead_id, ip=client_ip(request),
                     detail={"channel": target.channel, "interaction_id": item.id})
        interaction_id = item.id
    message = OutboundMessage(
        channel=target.channel, lead_id=lead_id, message_id=message_id, to=target.to, text=body.text,
        subject=subject, thread_ref=target.thread_ref, in_reply_to=in_reply_to,
        references=references + ((in_reply_to,) if in_reply_to and in_reply_to not in references else ()),
    )
    delivery = await responders[target.channel].send(message)
    async with request.app[SESSIONS]() as session, session.begin():
        await outbound.record_delivery(session, interaction_id, delivery.ok, delivery.provider_id, delivery.error)
    if delivery.ok:      # the client is reached: their callbacks and follow-ups on any channel are done
        await client_reached(request.app[SESSIONS], request.app.get(ROUTING), lead_id, target.channel,
                             request.app[CLOCK]())
    result = {"interaction_id": interaction_id, "channel": target.channel,
              "delivery": "sent" if delivery.ok else "failed", "error": delivery.error}
    if not delivery.ok:
        return web.json_response({**result, "error": {"code": "delivery_failed", "field": None,
                                                      "message": delivery.error or "not delivered"}}, status=502)
    return web.json_response(result, status=201)
