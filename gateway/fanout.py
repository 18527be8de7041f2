"""Getting a frame to a user's screens wherever they are connected: this process, or any behind Redis."""
from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.hub import Hub, encoded

log = logging.getLogger(__name__)


# Many frames at once, each to its own users: a burst (reminders falling due together) in one round trip.
Batch = Sequence[tuple[set[int], str, Mapping[str, Any]]]


class Fanout(Protocol):
    async def to_users(self, user_ids: set[int], kind: str, data: Mapping[str, Any]) -> None: ...

    async def to_users_each(self, frames: Batch) -> None:
        """Every frame to its users, in order; one message to the other processes for the lot."""

    async def to_roles(self, roles: frozenset[str], kind: str, data: Mapping[str, Any]) -> None: ...

    async def disconnect(self, user_id: int, session: str | None, reason: str) -> None:
        """Close the user's sockets (of one session, by token digest, or all) in every process."""

    def may_reach(self, roles: frozenset[str]) -> bool:
        """False only when surely nobody with one of `roles` is connected anywhere."""


class LocalFanout:
    """One process: every socket is in our own hub."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    async def to_users(self, user_ids: set[int], kind: str, data: Mapping[str, Any]) -> None:
        await self._hub.send_many(user_ids, kind, data)

    async def to_users_each(self, frames: Batch) -> None:
        for user_ids, kind, data in frames:
            present = {user for user in user_ids if self._hub.connected(user)}
            if present:         # most of a burst is for people with no screen here: nothing to schedule
                await self._hub.send_many(present, kind, data)

    async def to_roles(self, roles: frozenset[str], kind: str, data: Mapping[str, Any]) -> None:
        await self._hub.send_many(self._hub.connected_users(roles), kind, data)

    async def to_users_encoded(self, user_ids: set[int], payload: bytes) -> None:
        await self._hub.send_encoded(user_ids, payload)

    async def to_roles_encoded(self, roles: frozenset[str], payload: bytes) -> None:
        await self._hub.send_encoded(self._hub.connected_users(roles), payload)

    async def disconnect(self, user_id: int, session: str | None, reason: str) -> None:
        await self._hub.disconnect(user_id, session, reason)

    def may_reach(self, roles: frozenset[str]) -> bool:
        return bool(self._hub.connected_users(roles))


# Who is connected where, by role: each process says which roles it has sockets of, every ROLES_EVERY
# seconds, in one hash; a word older than ROLES_FRESH is from a process that stopped. Without it every
# process composed the wallboard (a snapshot of all routing state through Redis, decoded) twice a second
# for supervisors who were not there: two thirds of the extra CPU of a second process (bench/scale_out.py).
ROLES_EVERY = 2.0
ROLES_FRESH = 10.0
ROLES_FORGET = 3600.0       # a stopped process's word is deleted after this


class RedisFanout:
    """Several processes: frames go through one Redis channel; each process delivers to its own sockets."""

    def __init__(self, redis: Redis, hub: Hub, channel: str, clock: Callable[[], float] = time.time,
                 roles_every: float = ROLES_EVERY) -> None:
        self._redis = redis
        self._origin = uuid.uuid4().hex     # our own messages come back to us: delivered already
        self._hub = hub
        self._local = LocalFanout(hub)
        self._channel = channel
        self._clock = clock
        self._roles_every = roles_every
        self._roles_key = f"{channel}:roles"
        self._remote: dict[str, tuple[float, frozenset[str]]] = {}     # other processes' roles, when said
        self._roles_known = False
        self._roles_asked = self._roles_applied = 0     # which share_roles' read is the newest applied
        self._closing = asyncio.Event()
        self._announcer: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        # Called once subscribed again after a loss: frames other processes sent meanwhile were missed,
        # so our screens are brought up to date (a lost "on break" would leave one waiting for nothing).
        self.on_resubscribed: list[Callable[[], Awaitable[None]]] = []
        self._resyncs: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> RedisFanout:
        self._listener = asyncio.create_task(self._listen(), name="fanout.listen")
        async with asyncio.timeout(10):
            await self._ready.wait()
        self._announcer = asyncio.create_task(self._announce(), name="fanout.roles")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing.set()
        tasks = [t for t in (self._listener, self._announcer, *self._resyncs) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await self._redis.hdel(self._roles_key, self._origin)
        except RedisError:
            pass        # our word goes stale by itself

    # Our own sockets first, straight from the hub: a screen on this process never misses a frame
    # because Redis is down or our subscription is reconnecting (an offer lost so would time out).
    # The frame is encoded once: our sockets get those bytes, and so do the other processes' (as the text
    # of the message), which hand them to their sockets as they are.
    async def to_users(self, user_ids: set[int], kind: str, data: Mapping[str, Any]) -> None:
        payload = encoded(kind, data)
        await self._local.to_users_encoded(user_ids, payload)
        await self._publish({"users": sorted(user_ids), "type": kind, "frame": payload.decode()})

    async def to_users_each(self, frames: Batch) -> None:
        await self._local.to_users_each(frames)
        if frames:
            await self._publish({"each": [{"users": sorted(users), "type": kind, "data": data}
                                          for users, kind, data in frames]})

    async def to_roles(self, roles: frozenset[str], kind: str, data: Mapping[str, Any]) -> None:
        payload = encoded(kind, data)
        await self._local.to_roles_encoded(roles, payload)
        await self._publish({"roles": sorted(roles), "type": kind, "frame": payload.decode()})

    def may_reach(self, roles: frozenset[str]) -> bool:
        if self._local.may_reach(roles) or not self._roles_known:
            return True     # here, or nothing heard from the others yet: someone may be there
        fresh = self._clock() - ROLES_FRESH
        return any(said >= fresh and roles & theirs for said, theirs in self._remote.values())

    async def share_roles(self) -> None:
        """Say which roles have sockets here, and read what the other processes said (one round trip)."""
        now = self._clock()
        self._roles_asked += 1
        asked = self._roles_asked
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hset(self._roles_key, self._origin, json.dumps([now, sorted(self._hub.connected_roles())]))
            pipe.hgetall(self._roles_key)
            _, said = await pipe.execute()
        remote, gone = {}, []
        for origin, raw in said.items():
            at, roles = json.loads(raw)
            if origin != self._origin:
                remote[origin] = (float(at), frozenset(roles))
                if float(at) < now - ROLES_FORGET:
                    gone.append(origin)
        # Two calls at once (the announcer's and a caller's) run on two pooled connections and may answer in either
        # order: an older read must not replace a newer one (a watcher just said would be forgotten again).
        if asked > self._roles_applied:
            self._roles_applied = asked
            self._remote, self._roles_known = remote, True
        if gone:
            await self._redis.hdel(self._roles_key, *gone)

    async def _announce(self) -> None:
        # Ends on `_closing` as well as on cancel: redis-py can swallow a cancel that lands inside a command (the
        # task then slept its next hour, and the shutdown waiting for it with it).
        while not self._closing.is_set():
            try:
                await self.share_roles()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._roles_known = False       # may_reach says yes meanwhile: a wasted wallboard, not a lost one
                log.warning("roles not shared through Redis: %r", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self._roles_every)

    async def disconnect(self, user_id: int, session: str | None, reason: str) -> None:
        # Closed here first, so this process never depends on Redis to honour a sign-out it served.
        await self._local.disconnect(user_id, session, reason)
        await self._publish({"disconnect": {"user_id": user_id, "session": session, "reason": reason}})

    async def _publish(self, message: Mapping[str, Any]) -> None:
        try:
            await self._redis.publish(self._channel, json.dumps({**message, "origin": self._origin},
                                                                ensure_ascii=False, default=str))
        except RedisError as exc:
            # A frame is a hint to redraw; what it says is committed, and a screen resyncs on reconnect.
            # Failing here would turn a saved change into an error for whoever made it.
            log.warning("frame %s not fanned out, Redis unreachable: %r", message.get("type"), exc)

    async def _listen(self) -> None:
        delay = 0.1
        while not self._closing.is_set():       # as the announcer: a cancel redis-py swallows still ends it
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    if self._ready.is_set():
                        self._resync()
                    self._ready.set()
                    delay = 0.1
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            await self._deliver(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:
                # Frames published while we reconnect are missed; screens resync on their next connect.
                if self._closing.is_set():
                    return
                log.exception("fan-out subscription lost; reconnecting in %.1fs", delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), delay)
                delay = min(delay * 2, 5.0)

    def _resync(self) -> None:
        for callback in self.on_resubscribed:
            task = asyncio.create_task(_logged(callback(), "screens resync after a fan-out loss"))
            self._resyncs.add(task)
            task.add_done_callback(self._resyncs.discard)

    async def _deliver(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
            if message.get("origin") == self._origin:
                return
            if "disconnect" in message:
                end = message["disconnect"]
                await self._local.disconnect(int(end["user_id"]), end["session"], str(end["reason"]))
            elif "users" in message:
                await self._local.to_users_encoded(set(message["users"]), message["frame"].encode())
            elif "each" in message:
                await self._local.to_users_each([(set(one["users"]), one["type"], one["data"])
                                                 for one in message["each"]])
            else:
                await self._local.to_roles_encoded(frozenset(message["roles"]), message["frame"].encode())
        except Exception:
            log.exception("undeliverable fan-out message")


async def _logged(step: Awaitable[None], what: str) -> None:
    try:
        await step
    except Exception:
        log.exception("%s failed", what)
