"""Every refusal as one JSON shape: {"error": {"code", "field", "message"}}, mapped once, here."""
from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from crm_store import errors as store_errors

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
    if request.content_length is not None and request.content_length > max_bytes:
        refuse(413, "too_large", f"body is larger than {max_bytes} bytes")
    raw = await request.content.read(max_bytes + 1)
    if len(raw) > max_bytes:
        refuse(413, "too_large", f"body is larger than {max_bytes} bytes")
    try:
        data = json.loads(raw or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        refuse(400, "bad_json", f"body is not valid JSON: {exc}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        refuse(422, "invalid", f"{field}: {first['msg']}" if field else first["msg"], field)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.field)
    except store_errors.StoreError as exc:
        return error_response(_STATUS.get(type(exc), 400), exc.code, exc.message, exc.field)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        return error_response(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason,
                              headers={k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")})
    except Exception:
        incident = uuid.uuid4().hex[:12]
        log.exception("unhandled error %s on %s %s", incident, request.method, request.path)
        return error_response(500, "internal", f"internal error, incident {incident}")
