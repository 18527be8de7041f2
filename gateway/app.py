"""The composition root: settings in, a wired aiohttp application out."""
from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path

from aiohttp import web

from crm_store import fields
from crm_store.ingest import Ingestor, utcnow
from crm_store.migrate import upgrade_async
from crm_store.resolution import JoinPolicy
from crm_store.session import create_engine, is_sqlite, session_factory
from crm_store.types import Permissions
from gateway import channels_wiring, frames, openapi, ui_routes
from gateway.voice import wiring as voice_wiring
from gateway.tasks import wiring as tasks_wiring
from gateway.api import (
    attachment_routes,
    call_routes,
    import_routes,
    client_routes,
    company_routes,
    contact_routes,
    field_routes,
    lead_routes,
    pipeline_routes,
    queue_routes,
    reply_routes,
    report_routes,
    session_routes,
    task_routes,
    team_routes,
    template_routes,
    system_routes,
    user_routes,
)
from gateway.attachments import AttachmentStore
from gateway.auth import auth_middleware, principal
from gateway.csrf import csrf_middleware
from gateway.errors import error_middleware, refuse
from gateway.hub import WATCHABLE, Hub
from gateway.imports.runner import ImportRunner, Progress
from gateway.intake import Intake
from gateway.logs import request_context_middleware
from gateway.metrics import Metrics, http_metrics_middleware
from gateway.mapping import pipeline_of, pipeline_sections, routing_hint
from gateway.keys import (
    ATTACHMENTS,
    CLOCK,
    ENGINE,
    HUB,
    IMPORTS,
    INGESTOR,
    INTAKE,
    METRICS,
    NOTIFIER,
    PERMISSIONS,
    RESPONDERS,
    ROUTING,
    SCREENS,
    SESSIONS,
    SETTINGS,
    SIGNED_IN,
    TASK_CHANGED,
    WALLBOARD,
)
from gateway.routing.wiring import open_routing
from gateway.settings import Settings
from gateway.signed_in import SignedInCache
from gateway import throttle

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> web.Application:
    """Build the application; resources open and close with it, one cleanup context each."""
    metrics = Metrics()
    app = web.Application(middlewares=[request_context_middleware(settings.log), http_metrics_middleware(metrics),
                                       error_middleware, auth_middleware,
                                       csrf_middleware], client_max_size=1024 * 1024)
    app[SETTINGS] = settings
    app[METRICS] = metrics
    app[CLOCK] = clock
    p = settings.permissions
    app[PERMISSIONS] = Permissions(edit_others=frozenset(p.edit_others), delete=frozenset(p.delete),
                                   delete_others=frozenset(p.delete_others), assign=frozenset(p.assign))
    app[RESPONDERS] = {}      # filled by the channels that can answer
    app[ATTACHMENTS] = AttachmentStore(Path(settings.storage.dir))
    app[HUB] = Hub(grace=settings.routing.disconnect_grace_seconds)
    app[SIGNED_IN] = SignedInCache()
    app[HUB].on_session_ended.append(app[SIGNED_IN].session_ended)
    app[TASK_CHANGED] = lambda task_id, due_at: None      # until the reminder timer runs
    app.cleanup_ctx.append(_database)
    throttle.mount(app, settings.http, settings.redis.url, settings.redis.prefix)
    app.cleanup_ctx.append(_ingestor)
    app.cleanup_ctx.append(_routing)
    app.cleanup_ctx.append(_imports)
    tasks_wiring.mount(app)
    app.on_shutdown.append(_close_sockets)   # before cleanup: open sockets would hold it up
    app.router.add_get("/ws", _websocket)
    app.router.add_get("/api/v1/openapi.json", openapi.serve)
    for module in (ui_routes, system_routes, session_routes, lead_routes, reply_routes, attachment_routes,
                   user_routes, contact_routes, queue_routes, report_routes, call_routes, client_routes,
                   company_routes, field_routes, task_routes, template_routes,
                   pipeline_routes, team_routes, import_routes):
        app.router.add_routes(module.routes)
    channels_wiring.mount(app, settings)
    voice_wiring.mount(app, settings)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS].database
    auto = settings.auto_migrate if settings.auto_migrate is not None else is_sqlite(settings.url)
    if auto:
        await upgrade_async(settings.url)
    engine = create_engine(settings.url)
    app[ENGINE] = engine
    app[SESSIONS] = session_factory(engine)
    log.info("store at %s", engine.url.render_as_string(hide_password=True))
    # `[leads.fields]` seeds the lead field definitions; what admins define since lives in the store.
    seeded = await fields.seed_lead_fields(app[SESSIONS], {name: f.model_dump(mode="json")
                                                           for name, f in app[SETTINGS].leads.fields.items()})
    if seeded:
        log.info("lead fields from the settings added to the field definitions: %s", ", ".join(seeded))
    yield
    await engine.dispose()


async def _ingestor(app: web.Application) -> AsyncIterator[None]:
    leads = app[SETTINGS].leads
    policy = JoinPolicy(stale_after=timedelta(days=leads.stale_after_days),
                        reopen_window=timedelta(hours=leads.reopen_window_hours))
    async with Ingestor(app[ENGINE], policy, clock=app[CLOCK]) as ingestor:
        app[INGESTOR] = ingestor
        metrics = app[METRICS]
        ingestor.on_batch = metrics.batch_written
        metrics.ingest_totals.ingestor = ingestor
        routing = app[SETTINGS].routing
        sections = pipeline_sections(app[SETTINGS])
        app[INTAKE] = Intake(ingestor, app[ATTACHMENTS], lambda contact: routing_hint(contact, routing), metrics,
                             lambda contact: pipeline_of(contact, routing, sections))
        yield


async def _websocket(request: web.Request) -> web.WebSocketResponse:
    gauge = request.app[METRICS].websockets
    gauge.inc()
    try:
        return await request.app[HUB].handle(request, principal(request), _watched(request))
    finally:
        gauge.dec()


def _watched(request: web.Request) -> str | None:
    """The page a socket says it shows (`/ws?watch=board`): frames only that page reads go to it alone."""
    watch = request.query.get("watch")
    if watch is not None and watch not in WATCHABLE:
        refuse(400, "invalid", f"watch must be one of: {', '.join(sorted(WATCHABLE))}", "watch")
    return watch


async def _close_sockets(app: web.Application) -> None:
    await app[HUB].close_all()


async def _routing(app: web.Application) -> AsyncIterator[None]:
    async with open_routing(app[SETTINGS], app[SESSIONS], app[HUB], app[INGESTOR]) as live:
        app[ROUTING] = live.driver
        app[NOTIFIER] = live.notifier
        app[SCREENS] = live.screens
        app[WALLBOARD] = live.wallboard
        live.driver.on_decision = app[METRICS].routed
        app[INTAKE].subscribe_batch(live.driver.on_contacts)
        try:
            yield
        finally:
            await app[INTAKE].drain()


async def _imports(app: web.Application) -> AsyncIterator[None]:
    """Import jobs run beside the intake through its writer; a job a stopped process left running resumes here."""
    notifier = app[NOTIFIER]

    async def tell(p: Progress) -> None:
        if p.user_id is not None:
            await notifier.import_progress(p.user_id, frames.import_progress(
                p.import_id, p.state, p.rows, p.done, p.counts, p.per_second, p.eta_seconds))

    runner = ImportRunner(app[SESSIONS], app[INGESTOR], app[SETTINGS].imports, app[SETTINGS].phone.region,
                          app[CLOCK], tell)
    app[IMPORTS] = runner
    await runner.resume_all()
    runner.sweep_unused()
    try:
        yield
    finally:
        await runner.close()
