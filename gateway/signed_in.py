"""Tokens already checked, remembered for a few seconds: every request would otherwise cost a read.

Each /api and /ws request proves who it is with a token. Looking it up is two round trips through the
database driver's thread for a row that changes when someone signs out, is disabled, gets a new
password or a new role: rarely, and always through a route of ours. So a token found valid is kept
here for at most `TTL`, and never past its session's own expiry.

What forgets an entry at once:
- in this process, the routes that end a session or change a user (`forget_user`, `forget_session`);
- in every process, the fan-out's `disconnect` (sign-out, disable, password change or reset), which
  the hub already receives from the others through Redis to close their sockets (`Hub.on_session_ended`).
What only `TTL` bounds: a change made where no such message is sent — another process's role, team or
name change, or `switchboard user` on the command line. Those already took effect only at the next
request; now at most `TTL` later, which is the window an admin's edit of a colleague's profile may take.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from crm_store.models import User
from crm_store.users import token_digest
from gateway.auth_types import Principal

TTL = timedelta(seconds=10)
SIZE = 20_000       # sessions remembered at once; the oldest go first beyond it


@dataclass(frozen=True, slots=True)
class SignedIn:
    principal: Principal
    must_change_password: bool
    until: datetime


class SignedInCache:
    """Token digest -> who it signs in, until `until`; bounded in time and in size."""

    def __init__(self, ttl: timedelta = TTL, size: int = SIZE) -> None:
        self._ttl = ttl
        self._size = size
        self._entries: OrderedDict[str, SignedIn] = OrderedDict()
        self._forgets = 0       # a read that began before a forget does not store what it read

    @property
    def generation(self) -> int:
        """Taken before reading a token from the store, handed back to `put`."""
        return self._forgets

    def get(self, token: str, now: datetime) -> SignedIn | None:
        digest = token_digest(token)
        found = self._entries.get(digest)
        if found is None:
            return None
        if found.until <= now:
            del self._entries[digest]
            return None
        return found

    def put(self, token: str, user: User, session_expires: datetime, now: datetime, generation: int) -> SignedIn:
        entry = SignedIn(Principal.of(user, token), bool(user.must_change_password),
                         min(now + self._ttl, session_expires))
        if generation != self._forgets:
            return entry        # a sign-out or a change landed while it was read: this request only
        digest = token_digest(token)
        self._entries[digest] = entry
        self._entries.move_to_end(digest)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return entry

    def forget_session(self, digest: str) -> None:
        self._forgets += 1
        self._entries.pop(digest, None)

    def forget_user(self, user_id: int) -> None:
        self._forgets += 1
        for digest in [d for d, e in self._entries.items() if e.principal.user_id == user_id]:
            del self._entries[digest]

    def session_ended(self, user_id: int, session: str | None) -> None:
        """The hub's hook: one session (by token digest) or all of the user's ended, here or elsewhere."""
        if session is None:
            self.forget_user(user_id)
        else:
            self.forget_session(session)

    def __len__(self) -> int:
        return len(self._entries)
