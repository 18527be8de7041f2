"""Attachments of a lead's messages, to those who may see the lead; always as downloads."""
from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from crm_store import audit, leads
from crm_store.interactions import find_interaction
from gateway.api.params import path_id
from gateway.auth import audit_refusals, client_ip, principal
from gateway.errors import refuse
from gateway.keys import ATTACHMENTS, CLOCK, SESSIONS

routes = web.RouteTableDef()


@routes.get("/api/v1/interactions/{interaction_id:[0-9]+}/attachments/{index:[0-9]+}")
@audit_refusals("attachment.read")
async def download(request: web.Request) -> web.StreamResponse:
    who = principal(request)
    interaction_id, index = path_id(request, "interaction_id", "message"), int(request.match_info["index"])
    async with request.app[SESSIONS]() as session, session.begin():
        item = await find_interaction(session, interaction_id)
        if item is None:
            refuse(404, "not_found", "no such message")
        await leads.get_visible(session, who.viewer, item.lead_id)
        files = item.attributes.get("attachments") or []
        if index >= len(files) or not files[index].get("ref"):
            refuse(404, "not_found", "no such attachment, or it was too large to keep")
        meta = files[index]
        audit.record(session, "attachment.read", request.app[CLOCK](), user_id=who.user_id, lead_id=item.lead_id,
                     ip=client_ip(request), detail={"interaction_id": interaction_id, "index": index})
    path = request.app[ATTACHMENTS].path_of(meta["ref"])
    if path is None:
        refuse(404, "not_found", "the file is missing from storage")
    # Served as an opaque download: a file a client sent must never run as a page of ours.
    return web.FileResponse(path, headers={
        "Content-Type": "application/octet-stream",
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(meta['filename'])}",
        "X-Content-Type-Options": "nosniff"})
