"""GET /metrics: states read now, then the registry in Prometheus' text format; open only to whom settings allow."""
from __future__ import annotations

import hmac
from ipaddress import ip_address

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.errors import error_response
from gateway.channel_states import channel_states
from gateway.keys import AMI, METRICS, ROUTING, SETTINGS, VOICE
from gateway.settings import MetricsSettings
from routing.types import TaskState

WAITING = (TaskState.PENDING, TaskState.RESERVED)


async def serve(request: web.Request) -> web.StreamResponse:
    if not allowed(request, request.app[SETTINGS].metrics):
        return error_response(403, "forbidden", "metrics are open to the networks in [metrics] allow "
                                                "or to a bearer of [metrics] token")
    app = request.app
    metrics = app[METRICS]
    routing = app.get(ROUTING)
    if routing is not None:
        snapshot = await routing.snapshot()
        per_queue: dict[str, int] = {}
        for record in snapshot.tasks:
            if record.state in WAITING:
                per_queue[record.task.queue] = per_queue.get(record.task.queue, 0) + 1
        metrics.set_waiting(per_queue, routing.queues)
    if (ami := app.get(AMI)) is not None:
        voice = app.get(VOICE)
        metrics.set_ami(ami.status, voice.active if voice is not None else None)
    metrics.set_channels({name: state["state"] for name, state in channel_states(app).items()})
    body = generate_latest(metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def allowed(request: web.Request, settings: MetricsSettings) -> bool:
    if not settings.allow and settings.token is None:
        return True
    if settings.token is not None:
        given = request.headers.get("Authorization", "")
        expected = f"Bearer {settings.token.get_secret_value()}"
        if hmac.compare_digest(given.encode(), expected.encode()):
            return True
    try:
        remote = ip_address(request.remote or "")
    except ValueError:
        return False
    if remote.version == 6 and remote.ipv4_mapped is not None:      # a dual-stack socket's IPv4 client
        remote = remote.ipv4_mapped
    return any(remote in network for network in settings.allow)
