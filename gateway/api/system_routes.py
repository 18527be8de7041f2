"""Liveness, readiness and Prometheus metrics."""
from __future__ import annotations

from aiohttp import web

from crm_store.session import ping
from gateway.keys import INGESTOR, SESSIONS

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    try:
        await ping(request.app[SESSIONS])
    except Exception as exc:  # any failure means "not ready"; the reason is for the operator
        return web.json_response({"status": "unavailable", "database": str(exc)[:200]}, status=503)
    return web.json_response({"status": "ok"})


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
