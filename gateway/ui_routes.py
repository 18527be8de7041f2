"""The operator console and the supervisor wallboard: pages and static files served by the gateway."""
from __future__ import annotations

from aiohttp import web

routes = web.RouteTableDef()
