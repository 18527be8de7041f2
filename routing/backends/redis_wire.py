"""The routing scripts' EVALSHA, the routing reads and the fan-out's PUBLISHes (every lead's) on a connection of
their own: written and read without redis-py's per-command path (pool checkout, retry wrapper, timeouts,
argument encoding, observability hooks, response callbacks), which costs about a PING of CPU per call, as much
as a routing decision's own Python.

One connection per backend and event loop, pipelined: calls from several tasks at once are written one after
another and their replies, which Redis sends in the same order, are handed back in it (hiredis parses them in
C). Each script is still one atomic command, so nothing changes for other processes. Anything this path does
not speak (TLS, a credentials provider, a cluster) and a connection refused go through the client as before,
with redis-py's own retries and errors; a connection lost with calls in flight fails them as the client's own
would (sent again through the client if it retries): only the common case is made lean.
"""
from __future__ import annotations

import asyncio
import socket
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import hiredis
from redis._parsers import BaseParser
from redis.asyncio import Redis
from redis.asyncio.connection import Connection, UnixDomainSocketConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse, RedisError, TimeoutError as RedisTimeoutError

_MORE = object()    # hiredis' "no whole reply buffered yet" (its default, False, could be a reply under RESP3)


class _Lost(RedisConnectionError):
    """The wire closed with calls in flight (see `ScriptWire.call`)."""


class _Wire(asyncio.Protocol):
    """One connection: requests written in order, replies matched to them in order."""

    def __init__(self, encoding: str | None, errors: str, timeout: float | None, where: str) -> None:
        kwargs: dict[str, Any] = {"encoding": encoding, "errors": errors} if encoding else {}
        # redis-py's own error mapping: NOSCRIPT, NOAUTH, BUSY and the rest come out as the same exceptions.
        self.reader = hiredis.Reader(protocolError=InvalidResponse, replyError=BaseParser.parse_error,
                                     notEnoughData=_MORE, **kwargs)
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.held: list[bytes] = []     # requests written together at the end of this loop turn (`_write`)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        # The client's socket timeout, per reply: each request's deadline, checked by one timer while any
        # is in flight (a timer per call, as asyncio.timeout would set, costs more than the rest of a call).
        self.timeout = timeout
        self.deadlines: deque[float] = deque()
        self._watch: asyncio.TimerHandle | None = None
        self.where = where

    # A write to a loopback socket costs the writer the receiving side's TCP work as well (tens of microseconds
    # of system CPU, more than the call's Python): while calls are in flight, what other tasks send in the same
    # turn of the event loop goes out in one write at its end. An idle wire writes at once (no added wait).
    def send(self, packed: bytes, future: asyncio.Future[Any]) -> None:
        self._write(packed, future.get_loop())
        self._expect(future)

    def send_many(self, packed: Iterable[bytes], futures: Sequence[asyncio.Future[Any]]) -> None:
        self._write(b"".join(packed), futures[0].get_loop())
        for future in futures:
            self._expect(future)

    def _write(self, data: bytes, loop: asyncio.AbstractEventLoop) -> None:
        if not self.waiting and not self.held:
            self.transport.write(data)  # type: ignore[union-attr]
            return
        self.held.append(data)
        if len(self.held) == 1:
            loop.call_soon(self._flush)

    def _flush(self) -> None:
        held, self.held = self.held, []
        if held and not self.closed:
            self.transport.write(b"".join(held))  # type: ignore[union-attr]

    def _expect(self, future: asyncio.Future[Any]) -> None:
        self.waiting.append(future)
        if self.timeout is not None:
            loop = future.get_loop()
            self.deadlines.append(loop.time() + self.timeout)
            if self._watch is None:
                self._watch = loop.call_at(self.deadlines[0], self._check)

    def _check(self) -> None:
        self._watch = None
        if not self.deadlines or self.closed:
            return
        loop = asyncio.get_running_loop()
        if self.deadlines[0] <= loop.time():
            # Redis took longer than the client's timeout: out of step now, so the connection goes (as in
            # redis-py) and every call still waiting on it fails as the client's would.
            self.close(RedisTimeoutError(f"Timeout reading from {self.where}"))
        else:
            self._watch = loop.call_at(self.deadlines[0], self._check)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        reader, waiting = self.reader, self.waiting
        reader.feed(data)
        try:
            while (reply := reader.gets()) is not _MORE:
                future = waiting.popleft()
                if self.deadlines:
                    self.deadlines.popleft()
                if not future.done():       # a caller that gave up (cancelled): its reply is read and dropped
                    future.set_result(reply)
        except (InvalidResponse, hiredis.ProtocolError, IndexError) as exc:   # garbage, or a reply nobody asked for
            self.close(_Lost(f"Redis sent what was not asked for: {exc!r}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.close(_Lost(f"connection to Redis lost: {exc!r}" if exc else "connection to Redis closed"))

    def close(self, error: Exception) -> None:
        self.closed = True
        self.held.clear()
        self.deadlines.clear()
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(error)
        if self.transport is not None:
            self.transport.close()


class ScriptWire:
    """`call(*command)` returns the reply as the client would (same decoding, same exceptions)."""

    def __init__(self, client: Redis) -> None:
        self.client = client
        self._settings = _settings(client)
        self._wire: _Wire | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opening: asyncio.Future[_Wire] | None = None

    @property
    def lean(self) -> bool:
        """Whether calls go over the wire of this module (else through the client)."""
        return self._settings is not None

    async def call(self, *command: Any) -> Any:
        wire = self._wire
        if wire is None or wire.closed or self._loop is not asyncio.get_running_loop():
            wire = await self._reopen()
            if wire is None:
                return await self.client.execute_command(*command)
        future = self._loop.create_future()  # type: ignore[union-attr]
        wire.send(hiredis.pack_command(command), future)
        try:
            reply = await future
        except _Lost as exc:
            # Lost with the command in flight (a Redis restart, a dropped socket), as the client's own
            # connection would have been: with retries (`Redis(retry=...)`; none from a URL) it is sent again
            # through the client, which retries as it did; without, the caller gets the client's error.
            if self._settings is not None and self._settings.retries > 0:
                return await self.client.execute_command(*command)
            raise RedisConnectionError(f"Error while reading from {wire.where}: {exc}") from None
        if isinstance(reply, RedisError):
            raise reply
        return reply

    async def call_many(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Several commands in one write (a burst of PUBLISHes), their replies in order; the first error is raised
        once all are read. Not atomic, as a pipeline without MULTI: each command is its own."""
        wire = self._wire
        if wire is None or wire.closed or self._loop is not asyncio.get_running_loop():
            wire = await self._reopen()
            if wire is None:
                async with self.client.pipeline(transaction=False) as pipe:
                    for command in commands:
                        pipe.execute_command(*command)
                    return await pipe.execute()
        loop = self._loop
        assert loop is not None
        futures = [loop.create_future() for _ in commands]
        wire.send_many([hiredis.pack_command(command) for command in commands], futures)
        replies = []
        try:
            for future in futures:
                replies.append(await future)
        except _Lost as exc:
            if self._settings is not None and self._settings.retries > 0:     # as `call`: the rest, again
                async with self.client.pipeline(transaction=False) as pipe:
                    for command in commands[len(replies):]:
                        pipe.execute_command(*command)
                    return replies + await pipe.execute()
            raise RedisConnectionError(f"Error while reading from {wire.where}: {exc}") from None
        for reply in replies:
            if isinstance(reply, RedisError):
                raise reply
        return replies

    async def _reopen(self) -> _Wire | None:
        """The wire opened (again), or None: the client's own path for this call."""
        if self._settings is None:
            return None
        try:
            return await self._open()
        except (OSError, TimeoutError, RedisConnectionError, RedisTimeoutError):
            # Refused or unreachable now: the client's path has the retries and errors callers expect.
            return None
        except RedisError:
            # The server took the connection but not this handshake (an ACL without SETNAME, a proxy):
            # the client's own way from now on.
            self._settings = None
            return None

    async def _open(self) -> _Wire:
        loop = asyncio.get_running_loop()
        if self._opening is not None and self._loop is loop and not self._opening.done():
            return await asyncio.shield(self._opening)
        self._drop()
        self._loop = loop
        self._opening = opening = loop.create_future()
        try:
            wire = await self._connect(loop)
        except BaseException as exc:
            # Whoever else waits for this opening takes the client's path (an opener cancelled is not them).
            opening.set_exception(exc if isinstance(exc, Exception) else RedisConnectionError("opening cancelled"))
            opening.exception()     # retrieved
            self._opening = None
            raise
        self._wire = wire
        opening.set_result(wire)
        return wire

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Wire:
        settings = self._settings
        assert settings is not None
        make: Callable[[], _Wire] = lambda: _Wire(settings.encoding, settings.errors, settings.timeout,  # noqa: E731
                                                  settings.where)
        if settings.path is not None:
            connect = loop.create_unix_connection(make, settings.path)
        else:
            connect = loop.create_connection(make, settings.host, settings.port)
        async with asyncio.timeout(settings.connect_timeout):
            transport, wire = await connect
            sock = transport.get_extra_info("socket")
            if settings.keepalive and sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                for option, value in settings.keepalive_options.items():
                    sock.setsockopt(socket.IPPROTO_TCP, option, value)
            # The client's handshake, on RESP2 (redis-py's default is RESP3; the scripts' replies read the
            # same either way: nil where RESP3 says false, and the backend treats both as "none").
            hello = []
            if settings.password is not None:
                hello.append(("AUTH", settings.username, settings.password) if settings.username
                             else ("AUTH", settings.password))
            if settings.db:
                hello.append(("SELECT", settings.db))
            if settings.name:
                hello.append(("CLIENT", "SETNAME", settings.name))
            futures = []
            for command in hello:
                futures.append(loop.create_future())
                wire.send(hiredis.pack_command(command), futures[-1])
            for future in futures:
                reply = await future
                if isinstance(reply, RedisError):
                    wire.close(reply)
                    raise reply
        return wire

    def _drop(self) -> None:
        wire, self._wire = self._wire, None
        if wire is not None and not wire.closed:
            try:
                wire.close(_Lost("replaced"))
            except RuntimeError:        # its event loop is closed: the socket goes with it
                pass

    async def aclose(self) -> None:
        """Close the wire (the client is the caller's)."""
        self._drop()


class _Settings:
    __slots__ = ("host", "port", "path", "db", "username", "password", "name", "timeout", "connect_timeout",
                 "keepalive", "keepalive_options", "encoding", "errors", "where", "retries")

    def __init__(self, conn: Connection) -> None:
        self.path: str | None = conn.path if isinstance(conn, UnixDomainSocketConnection) else None
        self.host: str = getattr(conn, "host", "")
        self.port: int = int(getattr(conn, "port", 0) or 0)
        self.db = int(conn.db or 0)
        self.username: str | None = conn.username
        self.password: str | None = conn.password
        self.name: str | None = conn.client_name
        self.timeout: float | None = conn.socket_timeout
        self.connect_timeout: float | None = conn.socket_connect_timeout
        self.keepalive = bool(getattr(conn, "socket_keepalive", False))
        self.keepalive_options: dict[int, int] = dict(getattr(conn, "socket_keepalive_options", None) or {})
        encoder = conn.encoder
        self.encoding: str | None = encoder.encoding if encoder.decode_responses else None
        self.errors: str = encoder.encoding_errors
        self.where = self.path or f"{self.host}:{self.port}"
        retry = getattr(conn, "retry", None)
        self.retries = retry.get_retries() if retry is not None else 0


def _settings(client: Redis) -> _Settings | None:
    """How to reach the client's server the way its pool does, or None where this module does not speak it."""
    pool = getattr(client, "connection_pool", None)
    if pool is None or not hasattr(pool, "make_connection"):
        return None
    conn = pool.make_connection()       # an object only: nothing is opened
    # Exactly these classes: TLS (SSLConnection) and others connect in ways this module does not copy.
    if type(conn) not in (Connection, UnixDomainSocketConnection):
        return None
    if getattr(conn, "credential_provider", None) is not None or conn.encoder.encoding.lower() not in ("utf-8", "utf8"):
        return None
    return _Settings(conn)
