"""The lead card an offer carries: routing's offer is the permission to see it."""
from __future__ import annotations

from typing import Any


from crm_store import leads
from crm_store.errors import NotFound
from crm_store.task_refs import lead_of_task
from crm_store.types import Role, Viewer
from crm_store.session import Session
from gateway.api.serialize import card_json

ROUTING = Viewer(user_id=0, role=Role.ADMIN, team_id=None)


async def card_of_task(session: Session, task_id: str) -> dict[str, Any] | None:
    lead_id = lead_of_task(task_id)
    if lead_id is None:
        return None
    try:
        return card_json(await leads.card(session, ROUTING, lead_id, timeline_limit=20))
    except NotFound:
        return None
