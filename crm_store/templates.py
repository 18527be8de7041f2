"""Quick replies: shared templates (no owner) and each person's own, found by short code."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_store import audit
from crm_store.errors import Conflict, Forbidden, NotFound
from crm_store.models import ReplyTemplate
from crm_store.types import Viewer


def _usable(viewer: Viewer):  # type: ignore[no-untyped-def]
    return or_(ReplyTemplate.owner_id.is_(None), ReplyTemplate.owner_id == viewer.user_id)


async def search(session: AsyncSession, viewer: Viewer, q: str | None, limit: int = 20) -> list[ReplyTemplate]:
    """Shared and own templates whose code (or title) starts with / contains `q`; own first, then by code."""
    query = select(ReplyTemplate).where(_usable(viewer))
    if q:
        like = q.lower().replace("\\", "").replace("%", "").replace("_", "") + "%"
        query = query.where(or_(ReplyTemplate.code.like(like), ReplyTemplate.title.ilike("%" + like)))
    query = query.order_by(ReplyTemplate.owner_id.is_(None), ReplyTemplate.code).limit(limit)
    return list(await session.scalars(query))


async def create(session: AsyncSession, viewer: Viewer, code: str, title: str, texts: Mapping[str, str],
                 shared: bool, now: datetime) -> ReplyTemplate:
    if shared and not viewer.role.sees_everything:
        raise Forbidden("only supervisors and admins add shared templates", "shared")
    owner = None if shared else viewer.user_id
    clash = await session.scalar(select(ReplyTemplate.id).where(
        ReplyTemplate.code == code, ReplyTemplate.owner_id.is_(None) if owner is None
        else ReplyTemplate.owner_id == owner))
    if clash is not None:
        raise Conflict(f"a template with code {code!r} exists already", "code")
    row = ReplyTemplate(owner_id=owner, code=code, title=title, texts=dict(texts), created_at=now, updated_at=now)
    session.add(row)
    await session.flush()
    audit.record(session, "template.create", now, user_id=viewer.user_id, detail={"template_id": row.id, "code": code})
    return row


async def editable(session: AsyncSession, viewer: Viewer, template_id: int) -> ReplyTemplate:
    row = await session.get(ReplyTemplate, template_id)
    if row is None or (row.owner_id is not None and row.owner_id != viewer.user_id):
        raise NotFound(f"template {template_id} not found")
    if row.owner_id is None and not viewer.role.sees_everything:
        raise Forbidden("only supervisors and admins change shared templates")
    return row


async def update(session: AsyncSession, viewer: Viewer, template_id: int, changes: Mapping[str, Any],
                 now: datetime) -> ReplyTemplate:
    """Change code, title or texts of a template the viewer may edit; a code taken in the same scope is refused."""
    row = await editable(session, viewer, template_id)
    before = {name: getattr(row, name) for name in ("code", "title", "texts")}
    if "code" in changes and changes["code"] != row.code:
        clash = await session.scalar(select(ReplyTemplate.id).where(
            ReplyTemplate.code == changes["code"], ReplyTemplate.id != row.id,
            ReplyTemplate.owner_id.is_(None) if row.owner_id is None else ReplyTemplate.owner_id == row.owner_id))
        if clash is not None:
            raise Conflict(f"a template with code {changes['code']!r} exists already", "code")
        row.code = changes["code"]
    if "title" in changes:
        row.title = changes["title"]
    if "texts" in changes:
        row.texts = dict(changes["texts"])
    row.updated_at = now
    await session.flush()
    audit.record(session, "template.update", now, user_id=viewer.user_id,
                 detail={"template_id": row.id, "changed": sorted(k for k in before if before[k] != getattr(row, k))})
    return row


async def delete(session: AsyncSession, viewer: Viewer, template_id: int, now: datetime) -> None:
    row = await editable(session, viewer, template_id)
    await session.delete(row)
    audit.record(session, "template.delete", now, user_id=viewer.user_id, detail={"template_id": template_id})
