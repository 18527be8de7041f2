"""Switchboard chooses: a FastAGI server the dialplan asks which extension to ring.

    exten => 6000,n,AGI(agi://127.0.0.1:4573/route,sales,101,${CHANNEL(linkedid)})
     same => n,GotoIf($["${SWITCHBOARD_EXTEN}" = ""]?queue)
     same => n,Dial(PJSIP/${SWITCHBOARD_EXTEN},20)

The answer lands in the channel variables SWITCHBOARD_EXTEN and SWITCHBOARD_REASON
("owner" | "routing" | "fallback" | "none"). The call must never wait on us: the chooser gets
`budget_seconds`; slow, failing or silent, the dialplan's own fallback (second argument) is used.
Built on panoramisk's FastAGI `Application`, wrapped so that a bad peer cannot stall the loop.
"""
from __future__ import annotations

import asyncio
import codecs
import contextvars
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol

from panoramisk.fast_agi import Application, Request

log = logging.getLogger(__name__)

ROUTE_PATH = "route"
EXTEN_VARIABLE = "SWITCHBOARD_EXTEN"
REASON_VARIABLE = "SWITCHBOARD_REASON"
MAX_HEADER_BYTES = 16 * 1024        # Asterisk sends ~1 KB; anything far bigger is not Asterisk
MAX_VALUE_CHARS = 64                # an extension or a reason; Asterisk reads an AGI line into 2 KB
_HIDDEN_CALLER = frozenset({"", "unknown", "anonymous", "restricted", "private", "unavailable"})
_UNSAFE = re.compile(r"[^0-9A-Za-z_\-+*#]")
_started: contextvars.ContextVar[float] = contextvars.ContextVar("agi_started")


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """What the dialplan tells us about the call it wants routed."""

    caller: str | None
    caller_name: str | None
    did: str | None
    queue: str | None
    fallback: str | None
    channel: str
    linkedid: str | None


@dataclass(frozen=True, slots=True)
class RouteAnswer:
    """The extension to ring and why ("owner" | "routing" | "fallback")."""

    extension: str
    reason: str


class RouteChooser(Protocol):
    """The plug point: gateway decides (owner first, then routing); None lets the dialplan fall back."""

    async def choose(self, request: RouteRequest) -> RouteAnswer | None: ...


def clean(value: str) -> str:
    """Only characters a dial string needs: nothing that could close the quotes or start a new command."""
    return _UNSAFE.sub("", value)


def _plain(value: str) -> bool:
    # Cleaning or cutting an extension would dial somebody else: such a value is refused whole.
    return bool(value) and len(value) <= MAX_VALUE_CHARS and clean(value) == value


def _value(headers: Mapping[str, str], key: str) -> str | None:
    value = (headers.get(key) or "").strip()
    return value or None


def _identity(value: str | None) -> str | None:
    return None if value is None or value.lower() in _HIDDEN_CALLER else value


def parse_request(headers: Mapping[str, str]) -> RouteRequest:
    """The AGI environment (agi_* headers, arguments agi_arg_N) as a RouteRequest."""
    dnid = _identity(_value(headers, "agi_dnid"))
    extension = _value(headers, "agi_extension")
    return RouteRequest(
        caller=_identity(_value(headers, "agi_callerid")),
        caller_name=_identity(_value(headers, "agi_calleridname")),
        # "s" is the dialplan's start extension, not a number anybody dialled.
        did=dnid or (extension if extension not in (None, "s") else None),
        queue=_value(headers, "agi_arg_1"),
        fallback=_value(headers, "agi_arg_2"),
        channel=_value(headers, "agi_channel") or "",
        linkedid=_value(headers, "agi_arg_3") or _value(headers, "agi_uniqueid"),
    )


def fallback_answer(request: RouteRequest) -> RouteAnswer:
    """The dialplan's own choice (second argument), or an empty extension: Queue() takes over."""
    fallback = request.fallback or ""
    if fallback and not _plain(fallback):
        log.warning("agi: dialplan fallback %r is not a plain extension; answering none", fallback)
        fallback = ""
    return RouteAnswer(fallback, "fallback") if fallback else RouteAnswer("", "none")


def _trusted(answer: RouteAnswer | None) -> RouteAnswer | None:
    if answer is None:
        return None
    extension = answer.extension.strip()
    if not _plain(extension):
        log.warning("agi: chooser answered an unusable extension %r; using the fallback", answer.extension)
        return None
    return RouteAnswer(extension, clean(answer.reason)[:MAX_VALUE_CHARS] or "routing")


class _GuardedReader:
    """What panoramisk's handler reads through: EOF raises, a deadline and a size cap apply.

    At EOF the library's header loop gets b"" forever without ever yielding, which freezes the
    whole event loop (no timeout can interrupt it); raising here ends that connection instead.
    Bytes are re-encoded through an incremental decoder so that stray non-UTF-8 bytes become
    U+FFFD rather than failing the call.
    """

    def __init__(self, reader: asyncio.StreamReader, deadline: float) -> None:
        self._reader = reader
        self._deadline = deadline
        self._received = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    async def read(self, n: int = -1) -> bytes:
        # The library asks for 100 bytes at a time; whatever has arrived is taken in one go instead.
        async with asyncio.timeout_at(self._deadline):
            data = await self._reader.read(max(n, 4096) if n >= 0 else n)
        if not data:
            raise ConnectionResetError("peer closed before the end of the AGI environment")
        self._received += len(data)
        if self._received > MAX_HEADER_BYTES:
            raise ValueError(f"AGI environment over {MAX_HEADER_BYTES} bytes")
        return self._decoder.decode(data).encode("utf-8")

    async def readline(self) -> bytes:
        async with asyncio.timeout_at(self._deadline):
            line = await self._reader.readline()
        if not line.endswith(b"\n"):
            raise ConnectionResetError("peer closed while we waited for a command result")
        return line


class AgiRouteServer:
    """FastAGI on host:port answering `agi://…/route,queue,fallback[,linkedid]`; an async context manager."""

    def __init__(self, chooser: RouteChooser, *, host: str = "127.0.0.1", port: int = 4573,
                 budget_seconds: float = 0.15, timeout_seconds: float = 5.0) -> None:
        self.chooser = chooser
        self.host = host
        self.port = port
        self.budget_seconds = budget_seconds
        self.timeout_seconds = timeout_seconds      # a whole connection, from accept to close
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self._app: Application | None = None
        self._stopping = False

    async def __aenter__(self) -> AgiRouteServer:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen; `port` then holds the real port (useful with port=0)."""
        self._stopping = False
        self._app = Application(loop=asyncio.get_running_loop())
        self._app.add_route(ROUTE_PATH, self._route)
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("agi: FastAGI routing on %s:%s", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening and end the connections in flight (each is short by design)."""
        if self._server is None:
            return
        self._stopping = True
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(self._connections, timeout=1.0)
        await self._server.wait_closed()
        self._server = None
        self._stopping = False

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._app is not None
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        loop = asyncio.get_running_loop()
        _started.set(time.perf_counter())
        deadline = loop.time() + self.timeout_seconds
        try:
            # The guarded reader ends most bad peers; this outer limit catches a peer that stops reading.
            async with asyncio.timeout_at(deadline + 0.5):
                await self._app.handler(_GuardedReader(reader, deadline), writer)
        except (OSError, ValueError, TimeoutError) as exc:
            log.warning("agi: connection from %s dropped: %s", writer.get_extra_info("peername"), _why(exc))
        except asyncio.CancelledError:
            # asyncio (3.11) logs a cancelled connection task as an error; ours only end by stop().
            if not self._stopping:
                raise
        finally:
            self._connections.discard(task)
            writer.close()

    async def _route(self, request: Request) -> None:
        """The `route` path: decide within the budget, then hand the answer to the dialplan."""
        route_request = parse_request(request.headers)
        decided = time.perf_counter()
        answer, why = await self._decide(route_request)
        decided = time.perf_counter() - decided
        try:
            await _set_variables(request, answer)
        except (OSError, ValueError, TimeoutError) as exc:
            log.warning("agi: route linkedid=%s channel=%s could not be answered: %s", route_request.linkedid,
                        route_request.channel, _why(exc))
            return
        log.info("agi: route linkedid=%s channel=%s queue=%s -> exten=%s reason=%s%s chooser=%.1fms total=%.1fms",
                 route_request.linkedid, route_request.channel, route_request.queue, answer.extension or '""',
                 answer.reason, f" ({why})" if why else "", decided * 1e3,
                 (time.perf_counter() - _started.get(time.perf_counter())) * 1e3)

    async def _ask(self, request: RouteRequest) -> RouteAnswer | None:
        return await self.chooser.choose(request)

    async def _decide(self, request: RouteRequest) -> tuple[RouteAnswer, str]:
        """The chooser's answer within the budget, else the fallback, with why it was not the chooser's."""
        # A task plus wait() rather than a timeout around the await: the budget holds even for a
        # chooser that swallows its cancellation.
        attempt = asyncio.ensure_future(self._ask(request))
        try:
            done, _ = await asyncio.wait({attempt}, timeout=self.budget_seconds)
        except asyncio.CancelledError:
            attempt.cancel()        # the server is stopping: the chooser goes with the connection
            raise
        if not done:
            attempt.cancel()
            attempt.add_done_callback(_consume)
            return fallback_answer(request), f"chooser over {self.budget_seconds * 1e3:.0f} ms"
        try:
            answer = _trusted(attempt.result())
        except Exception:
            log.exception("agi: chooser failed for %s; using the fallback", request.linkedid)
            return fallback_answer(request), "chooser failed"
        return (answer, "") if answer is not None else (fallback_answer(request), "no choice")


async def _set_variables(request: Request, answer: RouteAnswer) -> None:
    """SET VARIABLE twice, each waiting for Asterisk's `200 result=1`."""
    for name, value in ((EXTEN_VARIABLE, answer.extension), (REASON_VARIABLE, answer.reason)):
        result = await request.send_command(f'SET VARIABLE {name} "{clean(value)[:MAX_VALUE_CHARS]}"')
        if "error" in result or result.get("status_code") != 200:
            raise ValueError(f"SET VARIABLE {name}: {result.get('msg') or result.get('line') or result}")


def _why(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _consume(task: asyncio.Future[Any]) -> None:
    # A late chooser's outcome is not wanted, but it must be retrieved (no "never retrieved" noise).
    if not task.cancelled() and task.exception() is not None:
        log.warning("agi: late chooser failed: %r", task.exception())
