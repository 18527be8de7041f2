"""Liveness, readiness and Prometheus metrics."""
from __future__ import annotations

from aiohttp import web
from sqlalchemy import text

from gateway.channel_states import channel_states
from gateway.keys import INGESTOR, SESSIONS

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
        async with request.app[SESSIONS]() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready"; the reason is for the operator
        return web.json_response({"status": "unavailable", "database": str(exc)[:200], "channels": channels},
                                 status=503)
    return web.json_response({"status": "ok", "channels": channels})


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    ingestor = request.app[INGESTOR]
    lines = [
        "# HELP switchboard_ingested_events_total Inbound events committed (duplicates included).",
        "# TYPE switchboard_ingested_events_total counter",
        f"switchboard_ingested_events_total {ingestor.events}",
        "# HELP switchboard_ingest_commits_total Group commits of inbound events.",
        "# TYPE switchboard_ingest_commits_total counter",
        f"switchboard_ingest_commits_total {ingestor.batches}",
        "# HELP switchboard_ingest_write_seconds_total Time spent writing and committing batches.",
        "# TYPE switchboard_ingest_write_seconds_total counter",
        f"switchboard_ingest_write_seconds_total {ingestor.write_seconds:.6f}",
    ]
    return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")
