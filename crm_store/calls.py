"""A call is one interaction on its lead; as the call progresses its record is filled in."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_store.models import Contact, Identity, Interaction, User

VOICE = "voice"


async def call_record(session: AsyncSession, call_event_id: str) -> Interaction | None:
    return await session.scalar(select(Interaction).where(Interaction.channel == VOICE,
                                                          Interaction.event_id == call_event_id))


async def update_call(session: AsyncSession, call_event_id: str, changes: Mapping[str, Any],
                      append: Mapping[str, Any] | None = None) -> Interaction | None:
    """Merge `changes` into the call's record; `append` adds to list fields (who rang, transfers)."""
    item = await call_record(session, call_event_id)
    if item is None:
        return None
    attributes = {**item.attributes, **changes}
    for key, value in (append or {}).items():
        existing = list(attributes.get(key) or [])
        if value not in existing:
            existing.append(value)
        attributes[key] = existing
    item.attributes = attributes
    return item


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
