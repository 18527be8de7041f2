"""Who sits at which phone, asked on every ring of every call: kept in memory, refreshed behind the pops.

A known phone answers from memory (refreshed in the background once older than TTL, so an admin's change
shows within seconds); an unknown one is read at once (a user given this extension a moment ago must pop),
and a phone nobody sits at is remembered as such until the next refresh (trunks and Local channels ring
on every call: a read each time was a tenth of the server's work at 100 calls/s)."""
from __future__ import annotations

import asyncio
import time

from crm_store import calls
from crm_store.session import Sessions

TTL = 5.0


class PhoneBook:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions
        self._users: dict[str, int] = {}
        self._nobody: set[str] = set()
        self._read_at = float("-inf")
        self._refreshing: asyncio.Task[None] | None = None

    def cached(self, extension: str) -> tuple[bool, int | None]:
        """(known, user) from memory only: known False means only `user_at` can tell."""
        self._refresh_if_old()
        if extension in self._users:
            return True, self._users[extension]
        return extension in self._nobody, None

    async def user_at(self, extension: str) -> int | None:
        self._refresh_if_old()
        if not self._users and self._refreshing is not None and not self._refreshing.done():
            await asyncio.wait([self._refreshing])      # the first ring: nothing to answer from yet
        known, user = self.cached(extension)
        if known:
            return user
        async with self._sessions() as session:
            found = (await calls.users_by_extension(session, {extension})).get(extension)
        if found is None:
            self._nobody.add(extension)
        else:
            self._users[extension] = user = found.id
        return user

    def known(self, extension: str) -> int | None:
        """The user at a phone as last read (no read: for records, not for pops)."""
        return self._users.get(extension)

    def _refresh_if_old(self) -> None:
        """Start a refresh in the background if the book is older than TTL (and none is running)."""
        if time.monotonic() - self._read_at > TTL and (self._refreshing is None or self._refreshing.done()):
            self._refreshing = asyncio.create_task(self._refresh())

    async def _refresh(self) -> None:
        started = time.monotonic()
        async with self._sessions() as session:
            users = await calls.users_with_extensions(session)
        self._users = {extension: user_id for user_id, extension in users.items()}
        self._nobody = set()
        self._read_at = started

    async def close(self) -> None:
        if self._refreshing is not None:
            await asyncio.gather(self._refreshing, return_exceptions=True)
