"""A call is one interaction on its lead; as the call progresses its record is filled in."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from crm_store.models import Contact, Identity, Interaction, RoutingTask, User
from crm_store.routing_log import OPEN_TASK_STATES
from vocabulary.channels import VOICE
CALLBACK = "callback"     # the routing task a missed call leaves: call the client back


def update_calls(session: Session, changes: Mapping[int, Mapping[str, Any]]) -> None:
    """Merge each call's changes into its record (the interaction its start created), by interaction id."""
    if not changes:
        return
    for item in session.scalars(select(Interaction).where(Interaction.id.in_(changes))):
        item.attributes = {**item.attributes, **changes[item.id]}


def open_tasks_of_leads(session: Session, lead_ids: set[int]) -> dict[int, RoutingTask]:
    """The open routing task of each lead that has one."""
    if not lead_ids:
        return {}
    rows = session.scalars(select(RoutingTask).where(RoutingTask.lead_id.in_(lead_ids),
                                                     RoutingTask.state.in_(OPEN_TASK_STATES)))
    return {row.lead_id: row for row in rows if row.lead_id is not None}


async def users_by_extension(session: AsyncSession, extensions: set[str]) -> dict[str, User]:
    if not extensions:
        return {}
    rows = await session.scalars(select(User).where(User.extension.in_(extensions), User.active.is_(True)))
    return {u.extension: u for u in rows if u.extension}


async def owner_of_phone(session: AsyncSession, phone: str) -> User | None:
    """The manager the caller is pinned to, if the number is a known client's and the owner is active."""
    owner = await session.scalar(
        select(User).join(Contact, Contact.owner_id == User.id).join(Identity, Identity.contact_id == Contact.id)
        .where(Identity.kind == "phone", Identity.value == phone, User.active.is_(True)).limit(1))
    return owner


async def users_with_extensions(session: AsyncSession) -> dict[int, str]:
    rows = await session.execute(select(User.id, User.extension).where(User.extension.is_not(None),
                                                                        User.active.is_(True)))
    return {user_id: extension for user_id, extension in rows if extension}


async def callbacks_waiting(session: AsyncSession) -> dict[str, int]:
    """Missed calls whose callback nobody has taken yet, per queue."""
    rows = await session.execute(select(RoutingTask.queue, func.count()).where(
        RoutingTask.kind == CALLBACK, RoutingTask.state.in_(("pending", "reserved"))).group_by(RoutingTask.queue))
    return {queue: count for queue, count in rows}
