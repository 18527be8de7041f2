"""Users, passwords (argon2) and login sessions."""
from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Collection, Mapping
from typing import Any
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_store.errors import Conflict, Forbidden, Invalid, NotFound, found
from crm_store.models import ApiSession, Team, User
from crm_store.types import Role, Viewer

DEFAULT_CAPACITY: Mapping[str, int] = {"voice": 1, "chat": 4, "email": 8}

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps login timing from revealing usernames.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


@dataclass(frozen=True, slots=True)
class NewUser:
    username: str
    password: str
    role: Role
    display_name: str | None = None
    extension: str | None = None
    skills: Mapping[str, int] | None = None
    capacity: Mapping[str, int] | None = None
    team: str | None = None
    locale: str = "en"
    time_zone: str = "UTC"


def viewer_of(user: User) -> Viewer:
    return Viewer(user_id=user.id, role=Role(user.role), team_id=user.team_id)


async def team_id_for(session: AsyncSession, name: str | None) -> int | None:
    """The id of team `name`, created on first use."""
    if not name:
        return None
    team_id = await session.scalar(select(Team.id).where(Team.name == name))
    if team_id is None:
        team = Team(name=name)
        session.add(team)
        await session.flush()
        team_id = team.id
    return team_id


async def create_user(session: AsyncSession, new: NewUser, now: datetime) -> User:
    if len(new.password) < 8:
        raise Invalid("password must have at least 8 characters", "password")
    if not new.username or len(new.username) > 100:
        raise Invalid("username must have 1 to 100 characters", "username")
    user = User(
        username=new.username, display_name=new.display_name or new.username, role=Role(new.role).value,
        password_hash=await hash_password(new.password), extension=new.extension or None,
        skills=dict(new.skills or {}), capacity=dict(new.capacity or DEFAULT_CAPACITY),
        team_id=await team_id_for(session, new.team), locale=new.locale, time_zone=new.time_zone or "UTC",
        active=True, created_at=now,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("username or extension already taken", "username") from exc
    return user


async def hash_password(password: str) -> str:
    """argon2 takes tens of milliseconds of CPU by design: in a worker thread, never on the event loop."""
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def authenticate(session: AsyncSession, username: str, password: str) -> User | None:
    return await password_checked(await sign_in_candidate(session, username), password)


async def sign_in_candidate(session: AsyncSession, username: str) -> User | None:
    """The active user `username`, whose password is then checked with `password_checked`."""
    return await session.scalar(select(User).where(User.username == username, User.active.is_(True)))


async def password_checked(user: User | None, password: str) -> User | None:
    """`user` if `password` is theirs (with a fresh hash if the parameters changed); needs no session,
    so no database connection is held while argon2 runs (50 sign-ins at once exhausted the pool)."""
    if not await asyncio.to_thread(_verify, user.password_hash if user else _DUMMY_HASH, password):
        return None
    if user is None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = await hash_password(password)
    return user


async def checked_user(session: AsyncSession, checked: User) -> User | None:
    """The user `authenticate` checked in another session (the hash is slow: it runs outside any write),
    loaded in this one with the fresh hash it may have made; None if the user went inactive meanwhile."""
    user = await session.get(User, checked.id)
    if user is None or not user.active:
        return None
    if user.password_hash != checked.password_hash:
        user.password_hash = checked.password_hash
    return user


def _digest(token: str) -> str:
    return token_digest(token)


def token_digest(token: str) -> str:
    """What is stored of a token, and what may travel between processes to name its session."""
    return hashlib.sha256(token.encode()).hexdigest()


async def open_session(session: AsyncSession, user: User, now: datetime, ttl: timedelta) -> str:
    """A new bearer token for `user`; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    session.add(ApiSession(token_hash=_digest(token), user_id=user.id, created_at=now, expires_at=now + ttl))
    return token


async def user_for_token(session: AsyncSession, token: str, now: datetime) -> User | None:
    return await session.scalar(
        select(User).join(ApiSession, ApiSession.user_id == User.id)
        .where(ApiSession.token_hash == _digest(token), ApiSession.expires_at > now, User.active.is_(True))
    )


async def session_of_token(session: AsyncSession, token: str, now: datetime) -> tuple[User, datetime] | None:
    """The active user `token` signs in and when its session expires, or None."""
    found = (await session.execute(_SESSION_OF_TOKEN, {"digest": _digest(token), "now": now})).first()
    return (found[0], found[1]) if found is not None else None


# Built once: every request's token is checked (then kept a few seconds, gateway.signed_in).
_SESSION_OF_TOKEN = (select(User, ApiSession.expires_at).join(ApiSession, ApiSession.user_id == User.id)
                     .where(ApiSession.token_hash == bindparam("digest"), ApiSession.expires_at > bindparam("now"),
                            User.active.is_(True)))


async def close_session(session: AsyncSession, token: str) -> None:
    await session.execute(delete(ApiSession).where(ApiSession.token_hash == _digest(token)))


async def get_user(session: AsyncSession, user_id: int) -> User:
    return found(await session.get(User, user_id), f"user {user_id} not found")


async def find_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def user_named(session: AsyncSession, username: str) -> User | None:
    return await session.scalar(select(User).where(User.username == username))


async def any_user_exists(session: AsyncSession) -> bool:
    return await session.scalar(select(User.id).limit(1)) is not None


async def list_users(session: AsyncSession) -> list[User]:
    return list(await session.scalars(select(User).order_by(User.id)))


async def active_users(session: AsyncSession) -> list[User]:
    """The users routing knows as agents, by id."""
    return list(await session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)))


async def active_user_ids(session: AsyncSession) -> list[int]:
    """The ids of `active_users`, without loading the users."""
    return list(await session.scalars(select(User.id).where(User.active.is_(True)).order_by(User.id)))


async def team_ids(session: AsyncSession) -> dict[str, int]:
    return {t.name: t.id for t in await session.scalars(select(Team))}


async def display_names(session: AsyncSession, user_ids: Collection[int]) -> dict[int, str]:
    return {u.id: u.display_name for u in await session.scalars(select(User).where(User.id.in_(user_ids)))}


async def update_user(session: AsyncSession, user: User, changes: Mapping[str, Any]) -> None:
    """Apply an admin's changes (a new password closes the user's sessions; a team is named)."""
    changes = dict(changes)
    if "password" in changes:
        await set_password(session, user, changes.pop("password"))
    if "team" in changes:
        user.team_id = await team_id_for(session, changes.pop("team"))
    if "extension" in changes:
        changes["extension"] = changes["extension"] or None     # blank is "no phone", never a shared ""
    for name, value in changes.items():
        setattr(user, name, value.value if isinstance(value, Role) else value)
    try:
        await session.flush()
    except IntegrityError as exc:       # the caller's transaction rolls back with this refusal
        raise Conflict("extension already taken by another user", "extension") from exc


# No 0/O or 1/l/I: the admin reads it out or types it for someone.
_READABLE = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def one_time_password(length: int = 14) -> str:
    """A random password an admin hands over once; 14 of 56 symbols is over 80 bits."""
    return "".join(secrets.choice(_READABLE) for _ in range(length))


async def set_password(session: AsyncSession, user: User, password: str, *, temporary: bool = False,
                       keep_token: str | None = None) -> list[str]:
    """A new password; every sign-in of the user ends but `keep_token`'s (their digests are returned, for
    closing their sockets). A temporary one (an admin's reset) lets the user do nothing but choose their own."""
    if len(password) < 8:
        raise Invalid("password must have at least 8 characters", "password")
    user.password_hash = await hash_password(password)
    user.must_change_password = temporary
    mine = ApiSession.user_id == user.id
    if keep_token is not None:
        mine = mine & (ApiSession.token_hash != _digest(keep_token))
    ended = list(await session.scalars(select(ApiSession.token_hash).where(mine)))
    await session.execute(delete(ApiSession).where(mine))
    return ended


async def change_own_password(session: AsyncSession, user: User, current: str, new: str, token: str) -> list[str]:
    """The user's own change: the current password proves it is them; their other sign-ins end (returned)."""
    if not await asyncio.to_thread(_verify, user.password_hash, current):
        raise Invalid("the current password is wrong", "current_password")
    if len(new) < 8:
        raise Invalid("the new password must have at least 8 characters", "new_password")
    if new == current:
        raise Invalid("the new password must differ from the current one", "new_password")
    return await set_password(session, user, new, keep_token=token)


WORKING_ROLES = (Role.OPERATOR.value, Role.MANAGER.value)


async def staff_in_scope(session: AsyncSession, viewer: Viewer, team_id: int | None = None) -> list[User]:
    """The people taking work whose figures `viewer` may see: supervisors and admins everyone's (or one
    team's), a manager their own team's (only their own without a team); nobody else sees others'."""
    if viewer.role.sees_everything:
        query = select(User).where(User.role.in_(WORKING_ROLES))
        if team_id is not None:
            if await session.get(Team, team_id) is None:
                raise NotFound(f"team {team_id} not found", "team")
            query = query.where(User.team_id == team_id)
        return list(await session.scalars(query.order_by(User.id)))
    if viewer.role is not Role.MANAGER:
        raise Forbidden("reports are for managers, supervisors and admins")
    if team_id is not None and team_id != viewer.team_id:
        raise Forbidden("a manager sees their own team's figures only", "team")
    if viewer.team_id is None:
        return list(await session.scalars(select(User).where(User.id == viewer.user_id)))
    return list(await session.scalars(select(User).where(User.team_id == viewer.team_id,
                                                         User.role.in_(WORKING_ROLES)).order_by(User.id)))


async def may_see_agent(session: AsyncSession, viewer: Viewer, user_id: int) -> User:
    """The agent, if `viewer` may see their day (themselves; a manager their team); NotFound otherwise."""
    user = await session.get(User, user_id)
    visible = user is not None and (viewer.role.sees_everything or user.id == viewer.user_id or (
        viewer.role is Role.MANAGER and viewer.team_id is not None and user.team_id == viewer.team_id))
    if not visible or user is None:
        raise NotFound(f"user {user_id} not found")
    return user


async def teams(session: AsyncSession) -> list[Team]:
    return list(await session.scalars(select(Team).order_by(Team.name)))


async def close_sessions(session: AsyncSession, user_id: int) -> None:
    """Every sign-in of the user ends (disabled from the command line, say)."""
    await session.execute(delete(ApiSession).where(ApiSession.user_id == user_id))


async def users_by_id(session: AsyncSession, user_ids: Collection[int]) -> list[User]:
    return list(await session.scalars(select(User).where(User.id.in_(user_ids))))
