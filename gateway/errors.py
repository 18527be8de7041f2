"""Every refusal as one JSON shape: {"error": {"code", "field", "message"}}, mapped once, here."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from channels.http_body import BodyTooLarge, MalformedJson, parse_json, read_bounded
from channels.types import IntakeRefused, IntakeUnavailable
from crm_store import errors as store_errors
from crm_store.ingest import StoreUnavailable

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_STATUS = {
    store_errors.NotFound: 404,
    store_errors.Forbidden: 403,
    store_errors.Conflict: 409,
    store_errors.Invalid: 422,
}


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "field": field, "message": message}}


def error_response(status: int, code: str, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(error_body(code, message, field), status=status, headers=headers)


class ApiError(Exception):
    """Raise from a handler to answer with a JSON error."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def refuse(status: int, code: str, message: str, field: str | None = None) -> NoReturn:
    raise ApiError(status, code, message, field)


async def read_model(request: web.Request, model: type[M], *, max_bytes: int = 256 * 1024) -> M:
    """Parse a JSON body into `model`, answering 400/413/422 with the offending field."""
    try:
        raw = await read_bounded(request, max_bytes)
    except BodyTooLarge as exc:
        refuse(413, "too_large", str(exc))
    try:
        data = parse_json(raw or b"{}")
    except MalformedJson as exc:
        refuse(400, "bad_json", f"body is not valid JSON: {exc}")
    where = _unstorable_at(data)
    if where is not None:
        # PostgreSQL cannot store U+0000 or a lone surrogate in text; no person types them, so they are refused.
        refuse(422, "invalid", f"{where or 'body'}: contains a NUL or an invalid character", where or None)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        refuse(422, "invalid", f"{field}: {first['msg']}" if field else first["msg"], field)


def _unstorable(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _unstorable_at(data: Any) -> str | None:
    """The dotted path of the first string (key or value) no database can store, or None; iterative."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if _unstorable(item):
                return path
        elif isinstance(item, dict):
            for key, value in item.items():
                inner = f"{path}.{key}" if path else key
                if _unstorable(key):
                    return path or "body"
                stack.append((inner, value))
        elif isinstance(item, list):
            stack.extend((f"{path}.{i}" if path else str(i), value) for i, value in enumerate(item))
    return None


def has_nul(request: web.Request) -> bool:
    """A NUL in the path or query: no route or store can use it, so it is refused before routing."""
    raw = request.raw_path
    if "%00" not in raw and "\x00" not in raw:
        return False        # decoding makes a NUL only of "%00": the decoded path and query are not read
    return "\x00" in request.path or any("\x00" in k or "\x00" in v for k, v in request.query.items())


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if has_nul(request):
        return error_response(400, "invalid", "the address contains a NUL character")
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.field)
    except store_errors.StoreError as exc:
        return error_response(_STATUS.get(type(exc), 400), exc.code, exc.message, exc.field)
    except (IntakeUnavailable, StoreUnavailable) as exc:
        return error_response(503, "unavailable", f"the store is unavailable, retry shortly: {exc}",
                              headers={"Retry-After": "5"})
    except IntakeRefused as exc:
        return error_response(422, "invalid", str(exc))
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        return error_response(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason,
                              headers={k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")})
    except Exception:
        incident = uuid.uuid4().hex[:12]
        log.exception("unhandled error %s on %s %s", incident, request.method, request.path)
        return error_response(500, "internal", f"internal error, incident {incident}")
