"""Liveness, readiness and Prometheus metrics."""
from __future__ import annotations

from aiohttp import web

from crm_store.session import ping
from gateway import metrics_endpoint
from gateway.channel_states import channel_states
from gateway.keys import SESSIONS

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """503 without the database; the channels are reported, but a channel's peer down is still "ok":
    forms, calls and the API are served while a mailbox or a bot reconnects."""
    channels = channel_states(request.app)
    try:
        await ping(request.app[SESSIONS])
    except Exception as exc:  # any failure means "not ready"; the reason is for the operator
        return web.json_response({"status": "unavailable", "database": str(exc)[:200], "channels": channels},
                                 status=503)
    return web.json_response({"status": "ok", "channels": channels})


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.StreamResponse:
    return await metrics_endpoint.serve(request)
