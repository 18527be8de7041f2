"""Live queue statistics and the routing story of a lead."""
from __future__ import annotations

from aiohttp import web

from crm_store import leads, routing_log
from crm_store.types import Role
from gateway.api.params import path_id
from gateway.auth import audit_refusals, principal, require_role
from gateway.keys import SESSIONS, WALLBOARD

routes = web.RouteTableDef()


@routes.get("/api/v1/queues/stats")
async def queue_stats(request: web.Request) -> web.Response:
    await require_role(request, Role.MANAGER, Role.SUPERVISOR, Role.ADMIN)
    return web.json_response(await request.app[WALLBOARD].compose())


@routes.get("/api/v1/leads/{lead_id:[0-9]+}/routing")
@audit_refusals("lead.routing")
async def lead_routing(request: web.Request) -> web.Response:
    """Every task of the lead, every offer made, and why routing chose as it did."""
    lead_id = path_id(request, "lead_id", "lead")
    async with request.app[SESSIONS]() as session:
        await leads.get_visible(session, principal(request).viewer, lead_id)
        body = []
        for task in await routing_log.tasks_of_lead(session, lead_id):
            offers = await routing_log.offers_of_task(session, task.id)
            body.append({
                "task_id": task.id, "state": task.state, "queue": task.queue, "channel": task.channel,
                "created_at": task.created_at.isoformat(), "assignee_id": task.assignee_id,
                "offers": [{"offer_id": o.id, "agent_id": o.agent_id, "outcome": o.outcome,
                            "created_at": o.created_at.isoformat(),
                            "decided_at": o.decided_at.isoformat() if o.decided_at else None,
                            "explanation": o.explanation} for o in offers],
            })
    return web.json_response({"lead_id": lead_id, "tasks": body})
