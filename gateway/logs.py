"""Logging: text or JSON lines, each event tagged with the request, user, lead and channel it belongs to.

The tags live in context variables: the HTTP middleware sets the request id, authentication the
user, the intake the channel and the lead. A line logged anywhere below them carries them, and
asyncio copies them into the tasks it spawns from there.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import itertools
import secrets
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from gateway.errors import Handler
from gateway.settings import LogSettings

# The tags of where the code runs, in one variable (one set and one reset a request, where four variables cost four
# of each): a dict never changed once set, so a task started from here keeps the tags it started with.
_TAGS: ContextVar[dict[str, Any]] = ContextVar("log_tags", default={})
_NAMES = ("request_id", "user", "lead", "channel")     # in the order lines show them
_KNOWN = frozenset(_NAMES)
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "taskName"}
_GOOD_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

access_log = logging.getLogger("switchboard.access")

# Request ids: a random prefix per process and a counter. uuid4 per request read the kernel's random
# source each time, which on a busy VM cost more than the rest of the middleware (bench/ingest.py).
_ID_PREFIX = secrets.token_hex(4)
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """16 characters, unique in this process and, by their prefix, across processes."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFF:08x}"


def tags() -> dict[str, Any]:
    """The tags known where this is called (unset ones left out)."""
    known = _TAGS.get()
    return {name: value for name in _NAMES if (value := known.get(name)) is not None}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the tags, and any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "msg": record.getMessage(),
            **tags(), **_extras(record)}
        if record.exc_info:
            event["exc"] = self.formatException(record.exc_info)
        return json.dumps(event, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The classic line, with the tags appended where known: `... [request_id=… user=3]`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        known = tags()
        if not known:
            return line
        suffix = " [" + " ".join(f"{k}={v}" for k, v in known.items()) + "]"
        head, sep, rest = line.partition("\n")        # a traceback stays below the line
        return head + suffix + sep + rest


def configure(settings: LogSettings, level: str | None = None) -> None:
    """Install our handler on the root logger (standard error), replacing one installed before."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.format == "json" else TextFormatter())
    handler.set_name("switchboard")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "switchboard"]:     # others (a test's) stay
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level or settings.level)
    logging.getLogger("httpx").setLevel(logging.WARNING)     # one line per Telegram long poll otherwise
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)   # ours is switchboard.access
    access_log.disabled = not settings.access


Tokens = list[tuple[ContextVar[Any], Token[Any]]]


def bind(**values: Any) -> Tokens:
    """Set tags for the rest of this task (and the tasks it starts): user=, lead=, channel=."""
    if not _KNOWN.issuperset(values):
        raise KeyError(", ".join(sorted(set(values) - _KNOWN)))
    return [(_TAGS, _TAGS.set({**_TAGS.get(), **values}))]


def release(tokens: Tokens) -> None:
    """Undo `bind` in a long-lived task (a mailbox poller); a request keeps them for its access line."""
    if _TAGS.get().get("request_id") is None:
        for var, token in reversed(tokens):
            var.reset(token)


def request_context_middleware(settings: LogSettings) -> Any:
    """Tag the request with an id (the caller's X-Request-Id if sane), echo it, and log one access line."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get("X-Request-Id")
        request_id = given if given and _GOOD_REQUEST_ID.fullmatch(given) else new_request_id()
        token = _TAGS.set({"request_id": request_id})     # and no tag of the request before on this connection
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            if not response.prepared:
                response.headers["X-Request-Id"] = request_id
            return response
        except web.HTTPException as exc:
            status = exc.status
            exc.headers["X-Request-Id"] = request_id
            raise
        finally:
            # Checked first: at WARNING the line's fields would be built per request for nothing.
            if access_log.isEnabledFor(logging.INFO) and settings.access \
                    and not request.path.startswith(settings.access_skip):
                access_log.info("%s %s %s", request.method, request.path, status, extra={
                    "method": request.method, "path": request.path, "status": status, "remote": request.remote,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2)})
            _TAGS.reset(token)

    return middleware
