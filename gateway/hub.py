"""The websocket hub: delivers frames to users' sockets and hands client frames to handlers.

The hub only delivers. Who receives what is decided by the notifier, what a frame contains by
the code that builds it; so targeting is testable without a socket.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from gateway.auth_types import Principal
from gateway.wire_json import dumps

log = logging.getLogger(__name__)

MAX_FRAME = 64 * 1024
# Pages whose socket asks for frames no other page reads (`/ws?watch=board`): a card moved on the board goes to
# the open boards only, not to every console of every operator.
WATCHABLE = frozenset({"board"})

FrameHandler = Callable[[Principal, Mapping[str, Any]], Awaitable[Mapping[str, Any] | None]]
UserHook = Callable[[Principal], Awaitable[None]]


class FrameError(Exception):
    """A client frame that cannot be acted on; the client gets an `error` frame, the socket stays."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def encoded(kind: str, data: Mapping[str, Any]) -> bytes:
    """A frame as it goes on the wire: encoded once, however many sockets receive it."""
    return dumps({"type": kind, "data": data})


def frame(kind: str, data: Mapping[str, Any]) -> str:
    return encoded(kind, data).decode()


@dataclass
class Hub:
    """Sockets per user; a user is "connected" while at least one of their sockets is open."""

    heartbeat: float = 20.0
    grace: float = 15.0                     # a dropped socket counts as away only after this
    handlers: dict[str, FrameHandler] = field(default_factory=dict)
    # A socket registered, before `on_connect` reads the state to send: whoever routes frames to this process
    # (gateway.fanout) starts listening for the user first, so no frame falls between the state and the listening.
    on_attached: list[UserHook] = field(default_factory=list)
    on_detached: list[Callable[[Principal], None]] = field(default_factory=list)  # a socket closed or dropped
    on_connect: list[UserHook] = field(default_factory=list)      # send the current state
    on_gone: list[UserHook] = field(default_factory=list)         # grace expired, no socket left
    # A session (token digest) or all of a user's (None) ended, here or in another process (gateway.signed_in).
    on_session_ended: list[Callable[[int, str | None], None]] = field(default_factory=list)
    _sockets: dict[int, set[web.WebSocketResponse]] = field(default_factory=dict)
    _roles: dict[int, str] = field(default_factory=dict)
    _sessions_of: dict[web.WebSocketResponse, str] = field(default_factory=dict)   # socket -> token digest
    # socket -> its user and the page it shows, for sockets that said (`watch`)
    _watching: dict[web.WebSocketResponse, tuple[int, str]] = field(default_factory=dict)
    _transports: dict[web.WebSocketResponse, asyncio.Transport] = field(default_factory=dict)
    _pending_gone: dict[int, asyncio.TimerHandle] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def connected(self, user_id: int) -> bool:
        return bool(self._sockets.get(user_id))

    def connected_users(self, roles: frozenset[str] | None = None) -> set[int]:
        """Users with an open socket here, optionally only those with one of `roles`."""
        return {user for user, sockets in self._sockets.items()
                if sockets and (roles is None or self._roles.get(user) in roles)}

    def connected_roles(self) -> set[str]:
        """The roles of the users with an open socket here."""
        return {self._roles[user] for user, sockets in self._sockets.items() if sockets and user in self._roles}

    async def send(self, user_id: int, kind: str, data: Mapping[str, Any]) -> int:
        """Send to every socket of `user_id`; returns how many received it."""
        return await self.send_encoded({user_id}, encoded(kind, data))

    async def send_many(self, user_ids: set[int], kind: str, data: Mapping[str, Any]) -> None:
        await self.send_encoded(user_ids, encoded(kind, data))

    async def send_encoded(self, user_ids: Iterable[int], payload: bytes, watching: str | None = None) -> int:
        """One encoded frame to every socket of these users (those showing the page `watching`, if given);
        returns how many received it.

        A send to a socket that keeps up completes without waiting (the bytes go to its transport), so those
        are written one after another with no task each; a socket with unread bytes queued may make its send
        wait, and is sent to beside the others so that it delays nobody. (A frame aiohttp compresses in a
        thread, over 16 KB, waits too, but in its socket's lock: sent inline it keeps its place before the
        frames that follow it, such as a pop's retraction.)"""
        sent, beside = 0, []
        for user_id in user_ids:
            for ws in list(self._sockets.get(user_id, ())):
                if watching is not None and self._watching.get(ws) != (user_id, watching):
                    continue
                transport = self._transports.get(ws)
                if transport is None or transport.get_write_buffer_size():
                    beside.append(self._send_one(ws, payload, user_id))
                else:
                    sent += await self._send_one(ws, payload, user_id)
        if beside:
            sent += sum(await asyncio.gather(*beside))
        return sent

    @staticmethod
    async def _send_one(ws: web.WebSocketResponse, payload: bytes, user_id: int) -> int:
        try:
            await ws.send_frame(payload, WSMsgType.TEXT)
            return 1
        except (ConnectionError, RuntimeError):
            log.debug("socket of user %s closed while sending", user_id)
            return 0

    def watching_users(self, page: str, roles: frozenset[str]) -> set[int]:
        """Users with one of `roles` and a socket here showing `page`."""
        return {user for user, shown in self._watching.values() if shown == page and self._roles.get(user) in roles}

    async def handle(self, request: web.Request, who: Principal, watch: str | None = None) -> web.WebSocketResponse:
        """Serve one socket of `who` until it closes; `watch` names the page it shows (one of WATCHABLE)."""
        origin = request.headers.get("Origin")
        if origin and urlsplit(origin).netloc != request.host:
            raise web.HTTPForbidden(reason="foreign origin")
        ws = web.WebSocketResponse(heartbeat=self.heartbeat, max_msg_size=MAX_FRAME)
        await ws.prepare(request)
        self._attach(who.user_id, ws)
        if request.transport is not None:
            self._transports[ws] = request.transport
        self._sessions_of[ws] = hashlib.sha256(who.token.encode()).hexdigest()
        if watch is not None:
            self._watching[ws] = (who.user_id, watch)
        self._roles[who.user_id] = who.role.value
        try:
            for hook in self.on_attached:
                await _guarded(hook, who, "on_attached")
            for hook in self.on_connect:
                await _guarded(hook, who, "on_connect")
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    await self._dispatch(ws, who, message.data)
                elif message.type == WSMsgType.BINARY:
                    await _reply(ws, "error", {"code": "bad_frame", "message": "send JSON text frames"})
                elif message.type == WSMsgType.ERROR:
                    log.info("socket of user %s failed: %s", who.user_id, ws.exception())
        finally:
            self._sessions_of.pop(ws, None)
            self._watching.pop(ws, None)
            self._transports.pop(ws, None)
            self._detach(who)
            for detached in self.on_detached:
                detached(who)
        return ws

    async def disconnect(self, user_id: int, session: str | None, reason: str) -> int:
        """Close `user_id`'s sockets here (only those of the session whose token digest is `session`, if
        given) at once: signed out or disabled, they must not receive another frame. Returns how many."""
        for forget in self.on_session_ended:
            forget(user_id, session)
        sockets = [ws for ws in self._sockets.get(user_id, ())
                   if session is None or self._sessions_of.get(ws) == session]
        for ws in sockets:
            self._sockets[user_id].discard(ws)       # no frame reaches it while it closes
        await asyncio.gather(*(ws.close(code=4401, message=reason.encode()[:120]) for ws in sockets),
                             return_exceptions=True)
        if sockets:
            log.info("closed %d socket(s) of user %s: %s", len(sockets), user_id, reason)
        return len(sockets)

    async def close_all(self) -> None:
        for handle in self._pending_gone.values():
            handle.cancel()
        self._pending_gone.clear()
        sockets = [ws for group in self._sockets.values() for ws in group]
        await asyncio.gather(*(ws.close(code=1001, message=b"server shutdown") for ws in sockets),
                             return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()

    def _attach(self, user_id: int, ws: web.WebSocketResponse) -> None:
        handle = self._pending_gone.pop(user_id, None)
        if handle is not None:
            handle.cancel()       # came back within the grace period: nothing happened
        self._sockets.setdefault(user_id, set()).add(ws)

    def _detach(self, who: Principal) -> None:
        sockets = self._sockets.get(who.user_id, set())
        sockets.difference_update({ws for ws in sockets if ws.closed})
        if sockets:
            return
        self._sockets.pop(who.user_id, None)
        loop = asyncio.get_running_loop()
        self._pending_gone[who.user_id] = loop.call_later(self.grace, self._gone, who)

    def _gone(self, who: Principal) -> None:
        self._pending_gone.pop(who.user_id, None)
        if self.connected(who.user_id):
            return
        for hook in self.on_gone:
            task = asyncio.create_task(_guarded(hook, who, "on_gone"))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _dispatch(self, ws: web.WebSocketResponse, who: Principal, raw: str) -> None:
        request_id: Any = None
        try:
            try:
                message = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise FrameError("bad_json", f"frame is not JSON: {exc.msg}") from None
            if not isinstance(message, dict) or not isinstance(message.get("type"), str):
                raise FrameError("bad_frame", 'a frame is {"type": ..., "data": {...}}')
            request_id = message.get("id")
            data = message.get("data", {})
            if not isinstance(data, dict):
                raise FrameError("bad_frame", "data must be an object")
            kind = message["type"]
            if kind == "ping":
                await _reply(ws, "pong", {"id": request_id})
                return
            handler = self.handlers.get(kind)
            if handler is None:
                raise FrameError("unknown_type", f"unknown frame type {kind[:50]!r}")
            reply = await handler(who, data)
            if reply is not None:
                await _reply(ws, f"{kind}.ok", {**reply, "id": request_id})
        except FrameError as exc:
            await _reply(ws, "error", {"code": exc.code, "message": exc.message, "id": request_id})
        except Exception:
            # One bad frame must never take the hub, or this socket, down.
            log.exception("frame handler failed for user %s", who.user_id)
            await _reply(ws, "error", {"code": "internal", "message": "internal error", "id": request_id})


async def _reply(ws: web.WebSocketResponse, kind: str, data: Mapping[str, Any]) -> None:
    await ws.send_frame(encoded(kind, data), WSMsgType.TEXT)


async def _guarded(hook: UserHook, who: Principal, what: str) -> None:
    # The hook's coroutine is made here, not by the caller: a task cancelled before it starts (close_all at
    # shutdown) then leaves no coroutine behind that was never awaited.
    try:
        await hook(who)
    except Exception:
        log.exception("hub hook %s failed", what)
