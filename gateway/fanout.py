"""Getting a frame to a user's screens wherever they are connected: this process, or any behind Redis."""
from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from gateway.auth_types import Principal
from gateway.hub import Hub, encoded, frame
from routing.backends.redis_wire import ScriptWire

log = logging.getLogger(__name__)


# Many frames at once, each to its own users: a burst (reminders falling due together) in one round trip.
Batch = Sequence[tuple[set[int], str, Mapping[str, Any]]]


class Fanout(Protocol):
    async def to_users(self, user_ids: set[int], kind: str, data: Mapping[str, Any]) -> None: ...

    async def to_users_each(self, frames: Batch) -> None:
        """Every frame to its users, in order; one message to the other processes for the lot."""

    async def to_roles(self, roles: frozenset[str], kind: str, data: Mapping[str, Any]) -> None: ...

    async def to_watchers(self, page: str, roles: frozenset[str], kind: str, data: Mapping[str, Any]) -> None:
        """To the sockets showing `page` (hub.WATCHABLE) of users with one of `roles`, in every process."""

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

    async def to_watchers(self, page: str, roles: frozenset[str], kind: str, data: Mapping[str, Any]) -> None:
        await self.to_watchers_encoded(page, roles, encoded(kind, data))

    async def to_watchers_encoded(self, page: str, roles: frozenset[str], payload: bytes) -> None:
        await self._hub.send_encoded(self._hub.watching_users(page, roles), payload, watching=page)

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
SUBSCRIBE_WAIT = 5.0        # a socket's state is sent after this even if Redis never confirmed its channel


class RedisFanout:
    """Several processes: a frame goes through Redis only to the processes with a socket of its recipient.

    Each user has a channel (`<channel>:user:<id>`) that a process subscribes to while it holds a socket of that
    user; a frame to users is published on their channels, so no process receives a frame for nobody (before,
    every frame went to every process, to be parsed and dropped where its user was not: the main cost of a
    second process, bench/scale_out.py). Redis keeps who listens where: a process that stops or dies loses its
    subscriptions with its connection, and a socket that moves is listened for where it arrives, before the
    state its screen is sent there is read (`Hub.on_attached`). Frames to roles and sign-outs go on `<channel>`
    itself, which every process listens to: the roles' screens are usually everywhere, and every process may
    have a sign-out's session cached.
    """

    def __init__(self, redis: Redis, hub: Hub, channel: str, clock: Callable[[], float] = time.time,
                 roles_every: float = ROLES_EVERY) -> None:
        self._redis = redis
        # PUBLISHes (a few per lead) on a lean connection of their own: through redis-py each cost about as
        # much CPU as a routing decision's script call did before it moved to such a wire.
        self._wire = ScriptWire(redis)
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
        self._pubsub: PubSub | None = None
        self._following: set[str] = set()       # the users' channels subscribed to on `_pubsub`
        self._subscribing = asyncio.Lock()      # one change of the subscriptions at a time, in order
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        # Messages from other processes delivered, and our own come back (a user with a socket here).
        self.counts: Counter[str] = Counter()
        # Called once subscribed again after a loss: frames other processes sent meanwhile were missed,
        # so our screens are brought up to date (a lost "on break" would leave one waiting for nothing).
        self.on_resubscribed: list[Callable[[], Awaitable[None]]] = []
        self._background: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> RedisFanout:
        self._hub.on_attached.append(self._attached)
        self._hub.on_detached.append(self._detached)
        self._listener = asyncio.create_task(self._listen(), name="fanout.listen")
        async with asyncio.timeout(10):
            await self._ready.wait()
        self._announcer = asyncio.create_task(self._announce(), name="fanout.roles")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closing.set()
        self._hub.on_attached.remove(self._attached)
        self._hub.on_detached.remove(self._detached)
        tasks = [t for t in (self._listener, self._announcer, *self._background) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await self._redis.hdel(self._roles_key, self._origin)
        except RedisError:
            pass        # our word goes stale by itself
        await self._wire.aclose()

    def user_channel(self, user_id: int) -> str:
        return f"{self._channel}:user:{user_id}"

    # Our own sockets first, straight from the hub: a screen on this process never misses a frame
    # because Redis is down or our subscription is reconnecting (an offer lost so would time out).
    # The frame is encoded once: our sockets get those bytes, and so do the other processes' (as the text
    # of the message, after our origin and a kind letter), which hand them to their sockets as they are.
    async def to_users(self, user_ids: set[int], kind: str, data: Mapping[str, Any]) -> None:
        payload = encoded(kind, data)
        await self._local.to_users_encoded(user_ids, payload)
        text = payload.decode()
        await self._publish([(self.user_channel(user), f"{self._origin}f{text}") for user in sorted(user_ids)], kind)

    async def to_users_each(self, frames: Batch) -> None:
        await self._local.to_users_each(frames)
        messages = []
        for user_ids, kind, data in frames:
            text = frame(kind, data)
            messages.extend((self.user_channel(user), f"{self._origin}f{text}") for user in sorted(user_ids))
        await self._publish(messages, "a burst")

    async def to_roles(self, roles: frozenset[str], kind: str, data: Mapping[str, Any]) -> None:
        payload = encoded(kind, data)
        await self._local.to_roles_encoded(roles, payload)
        await self._publish([(self._channel, f"{self._origin}r{','.join(sorted(roles))}\n{payload.decode()}")],
                            kind)

    async def to_watchers(self, page: str, roles: frozenset[str], kind: str, data: Mapping[str, Any]) -> None:
        payload = encoded(kind, data)
        await self._local.to_watchers_encoded(page, roles, payload)
        await self._publish([(self._channel, f"{self._origin}w{page}|{','.join(sorted(roles))}\n{payload.decode()}")],
                            kind)

    async def disconnect(self, user_id: int, session: str | None, reason: str) -> None:
        # Closed here first, so this process never depends on Redis to honour a sign-out it served. To every
        # process, not only those with a socket of the user: each forgets the session it may have cached
        # (`Hub.on_session_ended`, gateway.signed_in).
        await self._local.disconnect(user_id, session, reason)
        end = json.dumps({"user_id": user_id, "session": session, "reason": reason})
        await self._publish([(self._channel, f"{self._origin}d{end}")], "disconnect")

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

    async def _publish(self, messages: Sequence[tuple[str, str]], what: str) -> None:
        try:
            if len(messages) == 1:
                await self._wire.call("PUBLISH", *messages[0])
            elif messages:
                await self._wire.call_many([("PUBLISH", channel, text) for channel, text in messages])
        except RedisError as exc:
            # A frame is a hint to redraw; what it says is committed, and a screen resyncs on reconnect.
            # Failing here would turn a saved change into an error for whoever made it.
            log.warning("frame %s not fanned out, Redis unreachable: %r", what, exc)

    # -- listening where our sockets are --------------------------------------------------------------
    async def _attached(self, who: Principal) -> None:
        """A socket of `who` registered here: listen on their channel, and return once Redis says we do."""
        await self._follow(who.user_id)

    def _detached(self, who: Principal) -> None:
        if not self._hub.connected(who.user_id) and not self._closing.is_set():
            task = asyncio.create_task(_logged(self._follow(who.user_id), "unsubscribing a user's frames"))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _follow(self, user_id: int) -> None:
        """Subscribe to the user's channel if a socket of theirs is here, unsubscribe if none is.

        Decided from the hub inside the lock, so that a socket leaving and another arriving at once end in the
        state the hub is in, whichever runs first."""
        channel = self.user_channel(user_id)
        confirmed: asyncio.Future[None] | None = None
        async with self._subscribing:
            pubsub, wanted = self._pubsub, self._hub.connected(user_id)
            if pubsub is None or wanted == (channel in self._following):
                return      # no subscription now: the listener subscribes to every user here when it is back
            try:
                if wanted:
                    confirmed = self._confirmations.setdefault(channel, asyncio.get_running_loop().create_future())
                    await pubsub.subscribe(channel)
                    self._following.add(channel)
                else:
                    await pubsub.unsubscribe(channel)
                    self._following.discard(channel)
            except RedisError as exc:
                # The listener loses the connection too, and subscribes to every user here when it is back.
                log.warning("frames of user %s not subscribed to: %r", user_id, exc)
                return
        if confirmed is not None:
            try:
                async with asyncio.timeout(SUBSCRIBE_WAIT):
                    await asyncio.shield(confirmed)
            except TimeoutError:
                log.warning("Redis has not confirmed the frames of user %s after %.0fs", user_id, SUBSCRIBE_WAIT)

    async def _listen(self) -> None:
        delay = 0.1
        while not self._closing.is_set():       # as the announcer: a cancel redis-py swallows still ends it
            try:
                async with self._redis.pubsub() as pubsub:
                    async with self._subscribing:
                        self._following = {self.user_channel(user) for user in self._hub.connected_users()}
                        await pubsub.subscribe(self._channel, *self._following)
                        self._pubsub = pubsub
                    if self._ready.is_set():
                        self._resync()
                    self._ready.set()
                    delay = 0.1
                    async for message in pubsub.listen():
                        kind = message.get("type")
                        if kind == "message":
                            await self._deliver(message["channel"], message["data"])
                        elif kind == "subscribe":
                            self._confirmed(message["channel"])
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
            finally:
                self._pubsub = None
                for channel in list(self._confirmations):   # nobody waits for a lost connection's answer
                    self._confirmed(channel)

    def _confirmed(self, channel: str) -> None:
        waiting = self._confirmations.pop(channel, None)
        if waiting is not None and not waiting.done():
            waiting.set_result(None)

    def _resync(self) -> None:
        for callback in self.on_resubscribed:
            task = asyncio.create_task(_logged(callback(), "screens resync after a fan-out loss"))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _deliver(self, channel: str, raw: str) -> None:
        try:
            if raw.startswith(self._origin):
                self.counts["own"] += 1
                return
            self.counts["delivered"] += 1
            origin = len(self._origin)
            kind, body = raw[origin], raw[origin + 1:]
            if kind == "f":
                user_id = int(channel.rsplit(":", 1)[1])      # the user's channel: <channel>:user:<id>
                await self._local.to_users_encoded({user_id}, body.encode())
            elif kind == "r":
                roles, text = body.split("\n", 1)
                await self._local.to_roles_encoded(frozenset(roles.split(",")), text.encode())
            elif kind == "w":
                head, text = body.split("\n", 1)
                page, roles = head.split("|", 1)
                await self._local.to_watchers_encoded(page, frozenset(roles.split(",")), text.encode())
            elif kind == "d":
                end = json.loads(body)
                await self._local.disconnect(int(end["user_id"]), end["session"], str(end["reason"]))
            else:
                log.warning("fan-out message of an unknown kind %r", kind)
        except Exception:
            log.exception("undeliverable fan-out message")


async def _logged(step: Awaitable[None], what: str) -> None:
    try:
        await step
    except Exception:
        log.exception("%s failed", what)
