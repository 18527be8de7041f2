"""The web-form channel over HTTP: the reference adapter, commented so the next channel is written alike.

Every adapter has the same shape: refuse cheaply what is not ours, read the payload within a bound,
check who sent it, hand the pure `parse` step a plain mapping, `emit` the `InboundContact`, and only
then acknowledge. Errors are translated to the protocol's own vocabulary here, at the edge, and
nowhere else.
"""
from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from ipaddress import ip_address, ip_network
from typing import Any

from aiohttp import web

from channels.http_body import BodyTooLarge, read_bounded
from channels.types import Emit, IntakeRefused, IntakeUnavailable
from channels.webform.body import decode_body
from channels.webform.config import FormConfig
from channels.webform.embed import WORDS, frame_ancestors, render_page, render_script
from channels.webform.parse import FormError, check_submission_id, is_spam, parse_submission
from channels.webform.ratelimit import TokenBuckets
from channels.webform.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from vocabulary.channels import FORM

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
ALLOW_HEADERS = ", ".join(("Content-Type", IDEMPOTENCY_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER))
# Seconds a client should wait when the store is down: long enough to recover, short enough to keep the lead.
UNAVAILABLE_RETRY_AFTER = 10


class WebFormChannel:
    """`POST /forms/{form_key}` and its embed; every accepted submission goes to `emit`."""

    name = FORM

    def __init__(
        self,
        forms: Mapping[str, FormConfig],
        emit: Emit,
        *,
        region: str | None,
        trusted_proxies: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
        max_clients: int = 10_000,
    ) -> None:
        self._forms = dict(forms)
        self._emit = emit
        self._region = region
        self._proxies = tuple(ip_network(proxy, strict=False) for proxy in trusted_proxies)
        self._clock = clock
        self._buckets = TokenBuckets(clock, max_clients=max_clients)

    def routes(self) -> list[web.RouteDef]:
        """Route definitions for `app.add_routes(...)`."""
        return [
            web.post("/forms/{form_key}", self.submit),
            web.options("/forms/{form_key}", self.preflight),
            web.get("/forms/{form_key}/embed", self.embed_page),
            web.get("/forms/{form_key}/embed.js", self.embed_script),
        ]

    def add_routes(self, target: web.Application | web.UrlDispatcher) -> None:
        """Mount the routes on an application or its router (before the app starts)."""
        router = target.router if isinstance(target, web.Application) else target
        router.add_routes(self.routes())

    # -- POST /forms/{form_key} -------------------------------------------------------------

    async def submit(self, request: web.Request) -> web.Response:
        """Take one submission; 201 only once `emit` says the contact is committed."""
        client_ip = self.client_ip(request)
        headers: dict[str, str] = {}
        form_key = request.match_info["form_key"]
        try:
            form = self._form(form_key)
            headers = self._cors_headers(request, form)
            return await self._submit(request, form, client_ip, headers)
        except FormError as exc:
            # One log line per refusal: enough to spot a broken site form or an attack; nothing the client typed.
            log.info("form %s: refused %s from %s: %s %s", form_key, exc.status, client_ip, exc.code,
                     exc.field or "")
            return _error(exc, headers)

    async def _submit(self, request: web.Request, form: FormConfig, client_ip: str | None,
                      headers: dict[str, str]) -> web.Response:
        # Rate limit before reading the body: a flood should cost us as little as possible.
        wait = self._buckets.take((form.key, client_ip), rate_per_minute=form.rate_per_minute, burst=form.burst)
        if wait:
            headers["Retry-After"] = str(max(1, int(wait + 0.999)))
            raise FormError("rate_limited", None, "too many submissions; try again later", status=429)
        try:
            body = await read_bounded(request, form.max_body_bytes)
        except BodyTooLarge as exc:
            raise FormError("too_large", None, str(exc), status=413) from None
        # The signature covers the raw bytes, so it is checked before we interpret them.
        verify_signature(form, request.headers, body, now=self._clock())
        fields = decode_body(request.headers.get("Content-Type", ""), body)

        if is_spam(form, fields):
            # Bots get the answer a person would: telling them they were caught teaches them to adapt.
            log.info("form %s: honeypot filled by %s; dropped", form.key, client_ip)
            return _created(100_000 + secrets.randbelow(900_000), False, headers)

        submission_id = self._submission_id(request, form, fields)
        contact = parse_submission(
            form, fields, region=self._region, received_at=datetime.fromtimestamp(self._clock(), UTC),
            submission_id=submission_id, client_ip=client_ip, page=request.headers.get("Referer"),
        )
        try:
            accepted = await self._emit(contact)
        except IntakeUnavailable as exc:
            # Not stored: say so, and when to retry; the browser script keeps its submission id for that.
            log.warning("form %s: intake unavailable: %s", form.key, exc)
            headers["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
            raise FormError("unavailable", None, "we cannot take submissions right now; retry shortly",
                            status=503) from None
        except IntakeRefused as exc:
            log.warning("form %s: refused by the store: %s", form.key, exc)
            raise FormError("invalid", None, "this submission cannot be stored", status=422) from None
        except Exception:
            log.exception("form %s: emit failed for %s", form.key, contact.event_id)
            raise FormError("internal", None, "internal error; retry later", status=500) from None
        # Acknowledge after commit: a 201 is a promise that the lead exists, even if we crash next.
        log.info("form %s: lead %s%s from %s", form.key, accepted.lead_id,
                 " (duplicate)" if accepted.duplicate else "", client_ip)
        return _created(accepted.lead_id, accepted.duplicate, headers)

    def _submission_id(self, request: web.Request, form: FormConfig, fields: Mapping[str, str]) -> str:
        # A client-chosen id makes a retry (timeout, double click) land on the same lead.
        header = request.headers.get(IDEMPOTENCY_HEADER)
        if header is not None:
            return check_submission_id(header)
        for name, value in fields.items():
            if form.canonical(name) == "submission_id" and value.strip():
                return check_submission_id(value)
        # No id from the client: every post is a new lead, which is all a plain HTML form can ask for.
        return uuid.uuid4().hex

    # -- OPTIONS /forms/{form_key}: the browser asks before a cross-site JSON post --------------

    async def preflight(self, request: web.Request) -> web.Response:
        """CORS preflight: which origins, methods and headers a cross-site post may use."""
        form_key = request.match_info["form_key"]
        try:
            form = self._form(form_key)
            headers = self._cors_headers(request, form)
        except FormError as exc:
            log.info("form %s: refused preflight %s: %s", form_key, exc.status, exc.code)
            return _error(exc, {})
        headers.update({
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": ALLOW_HEADERS,
            "Access-Control-Max-Age": "600",
        })
        return web.Response(status=204, headers=headers)

    # -- GET /forms/{form_key}/embed and /embed.js ------------------------------------------

    async def embed_page(self, request: web.Request) -> web.Response:
        """An HTML page with the form alone, for an `<iframe>`; `?lang=ru` says it in the site's language."""
        form = self._embed_form(request)
        lang = request.query.get("lang", "en")
        if lang not in WORDS:
            raise web.HTTPBadRequest(text=_error(FormError(
                "invalid", "lang", f"lang must be one of {', '.join(sorted(WORDS))}", status=400), {}).text,
                content_type="application/json")
        return web.Response(text=render_page(form, lang), content_type="text/html", charset="utf-8", headers={
            # Only our own script runs there, and only sites allowed to post may frame it.
            "Content-Security-Policy": f"default-src 'none'; script-src 'self'; connect-src 'self'; "
                                       f"style-src 'unsafe-inline'; frame-ancestors {frame_ancestors(form)}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "public, max-age=300",
        })

    async def embed_script(self, request: web.Request) -> web.Response:
        """The script a site pastes; it renders the form and posts JSON back here."""
        form = self._embed_form(request)
        return web.Response(text=render_script(form), content_type="application/javascript", charset="utf-8",
                            headers={
                                "X-Content-Type-Options": "nosniff",
                                # Loaded from other sites by design, including ones that isolate origins.
                                "Cross-Origin-Resource-Policy": "cross-origin",
                                "Cache-Control": "public, max-age=300",
                            })

    def _embed_form(self, request: web.Request) -> FormConfig:
        try:
            return self._form(request.match_info["form_key"])
        except FormError as exc:
            raise web.HTTPNotFound(text=_error(exc, {}).text, content_type="application/json") from None

    # -- helpers ----------------------------------------------------------------------------

    def _form(self, key: str) -> FormConfig:
        form = self._forms.get(key)
        if form is None:
            raise FormError("unknown_form", None, f"no form {key!r}", status=404)
        return form

    def _cors_headers(self, request: web.Request, form: FormConfig) -> dict[str, str]:
        origin = request.headers.get("Origin")
        headers = {"Access-Control-Expose-Headers": "Retry-After", "Vary": "Origin"}
        if origin is None:
            # Not a browser cross-site request (curl, a server, an old same-site form): CORS does not apply.
            return headers
        if "*" in form.allowed_origins:
            return {**headers, "Access-Control-Allow-Origin": "*"}
        # The iframe embed posts from our own host; that origin is always fine.
        if form.origin_allowed(origin) or _host_of(origin) == request.host:
            return {**headers, "Access-Control-Allow-Origin": origin}
        raise FormError("origin_not_allowed", None, f"origin {origin} may not post to this form", status=403)

    def client_ip(self, request: web.Request) -> str | None:
        """The client's address; X-Forwarded-For counts only when our peer is a trusted proxy."""
        peer = request.remote
        # No proxy configured (the common case): nothing to parse; ip_address() cost ~20 us a post.
        if not self._proxies or not peer or not self._trusted(peer):
            return peer
        hops = [hop.strip() for value in request.headers.getall("X-Forwarded-For", [])
                for hop in value.split(",") if hop.strip()]
        # Walk back from the nearest hop: the first one not ours was written by our proxy, so it is true.
        for hop in reversed(hops):
            if not self._trusted(hop):
                return hop if _is_ip(hop) else peer
        return hops[0] if hops else peer

    def _trusted(self, address: str) -> bool:
        try:
            ip = ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._proxies)


def _created(lead_id: int, duplicate: bool, headers: Mapping[str, str]) -> web.Response:
    """The 201 `json_response` would build, as bytes: its text, charset and dumps took ~10 us of every post."""
    body = f'{{"lead_id": {int(lead_id)}, "duplicate": {"true" if duplicate else "false"}}}'.encode()
    return web.Response(body=body, status=201, headers=headers, content_type="application/json", charset="utf-8")


def _error(exc: FormError, headers: Mapping[str, str]) -> web.Response:
    body: dict[str, Any] = {"error": {"code": exc.code, "field": exc.field, "message": exc.message}}
    return web.json_response(body, status=exc.status, headers=dict(headers))


def _host_of(origin: str) -> str:
    return origin.split("://", 1)[-1].rstrip("/")


def _is_ip(value: str) -> bool:
    try:
        ip_address(value)
    except ValueError:
        return False
    return True
