"""Teams: the groups leads, clients and reports are scoped by. Named once, renamed freely, deleted only when empty."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_store.errors import Conflict, Invalid, found
from crm_store.models import Company, Lead, Team, User
from crm_store.types import Viewer


@dataclass(frozen=True, slots=True)
class TeamRow:
    id: int
    name: str
    members: int


def _clean(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > 100:
        raise Invalid("a team's name has 1 to 100 characters", "name")
    return cleaned


async def listed(session: AsyncSession, viewer: Viewer) -> list[TeamRow]:
    """Every team for supervisors and admins; anyone else sees only their own team (if any)."""
    members = (select(User.team_id, func.count(User.id).label("n")).where(User.active.is_(True))
               .group_by(User.team_id).subquery())
    query = (select(Team.id, Team.name, func.coalesce(members.c.n, 0))
             .outerjoin(members, members.c.team_id == Team.id).order_by(Team.name))
    if not viewer.role.sees_everything:
        if viewer.team_id is None:
            return []
        query = query.where(Team.id == viewer.team_id)
    return [TeamRow(id, name, n) for id, name, n in (await session.execute(query)).all()]


async def _named_elsewhere(session: AsyncSession, name: str, team_id: int | None) -> None:
    # Names compare without case: "Sales" and "sales" on one board filter would be two teams nobody tells apart.
    query = select(Team.id).where(func.lower(Team.name) == name.lower())
    if team_id is not None:
        query = query.where(Team.id != team_id)
    if await session.scalar(query) is not None:
        raise Conflict(f"a team named {name!r} already exists", "name")


async def create(session: AsyncSession, name: str) -> Team:
    name = _clean(name)
    await _named_elsewhere(session, name, None)
    team = Team(name=name)
    session.add(team)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a team named {name!r} already exists", "name") from exc
    return team


async def get(session: AsyncSession, team_id: int) -> Team:
    return found(await session.get(Team, team_id), f"team {team_id} not found")


async def rename(session: AsyncSession, team_id: int, name: str) -> tuple[Team, str]:
    """The team, renamed; and its name before."""
    team, name = await get(session, team_id), _clean(name)
    await _named_elsewhere(session, name, team_id)
    before, team.name = team.name, name
    await session.flush()
    return team, before


async def delete(session: AsyncSession, team_id: int) -> str:
    """Delete a team nobody and nothing belongs to (users, even disabled ones, leads, companies); its name."""
    team = await get(session, team_id)
    for model, what in ((User, "users"), (Lead, "leads"), (Company, "companies")):
        count = await session.scalar(select(func.count()).select_from(model).where(model.team_id == team_id))
        if count:
            raise Conflict(f"team {team.name!r} still has {count} {what}: move them first", "team")
    name = team.name
    await session.delete(team)
    await session.flush()
    return name
