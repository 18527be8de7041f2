"""Run a piece of store work and leave its audit entry: "ok" with the work, "denied" on its own when refused."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from crm_store import audit
from crm_store.errors import Conflict, Forbidden, NotFound
from gateway.auth import client_ip, principal
from gateway.keys import CLOCK, SESSIONS

Work = Callable[[Any], Awaitable[tuple[Any, dict[str, Any]]]]


async def audited(request: web.Request, action: str, work: Work, *, contact_id: int | None = None,
                  lead_id: int | None = None) -> Any:
    """`work(session)` returns (result, detail); the entry commits with the work, or alone if it was refused.
    A detail may name `lead_id` / `contact_id` found during the work: the entry is filed under them."""
    who, now = principal(request), request.app[CLOCK]()
    try:
        async with request.app[SESSIONS]() as session, session.begin():
            result, detail = await work(session)
            audit.record(session, action, now, user_id=who.user_id, ip=client_ip(request),
                         contact_id=detail.pop("contact_id", contact_id), lead_id=detail.pop("lead_id", lead_id),
                         detail=detail)
            return result
    except (Conflict, Forbidden, NotFound) as exc:
        async with request.app[SESSIONS]() as session, session.begin():
            audit.record(session, action, now, user_id=who.user_id, contact_id=contact_id, lead_id=lead_id,
                         ip=client_ip(request), outcome="denied", detail={"reason": exc.message})
        raise
