"""Pure step of the web-form channel: posted fields in, `InboundContact` out; no I/O, no clock."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime

from channels.identity import InvalidIdentity, mentioned_identities, normalize_email, normalize_phone
from channels.types import Confidence, IdentityClaim, InboundContact
from channels.webform.config import FormConfig
from vocabulary.channels import FORM

CHANNEL = FORM

# Attributes this channel sets itself; a posted field of the same name must not forge them.
_RESERVED = frozenset({"form", "client_ip", "source"})
_MAX_URL_CHARS = 2000
_MAX_KEY_CHARS = 64
# C0 controls other than tab / newline / carriage return: invisible, and PostgreSQL refuses NUL.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SUBMISSION_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class FormError(ValueError):
    """A submission we refuse; `field` names the input so a form can point at it."""

    def __init__(self, code: str, field: str | None, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message
        self.status = status


def fields_from_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Flatten posted `(name, value)` pairs; repeated names (checkbox groups) are joined with ", "."""
    fields: dict[str, str] = {}
    for name, value in pairs:
        name = name.strip()
        if name in fields and value:
            fields[name] = f"{fields[name]}, {value}" if fields[name] else value
        else:
            fields.setdefault(name, value)
    return fields


def is_spam(form: FormConfig, fields: Mapping[str, str]) -> bool:
    """True when the honeypot input, invisible to people, was filled in."""
    return bool(form.honeypot and fields.get(form.honeypot, "").strip())


def check_submission_id(value: str) -> str:
    """The client's idempotency key, if it is short and plain enough to be part of `event_id`."""
    value = value.strip()
    if not _SUBMISSION_ID.match(value):
        raise FormError("invalid", "submission_id",
                        "submission_id must be 1-128 letters, digits or . _ : -", status=400)
    return value


def parse_submission(
    form: FormConfig,
    fields: Mapping[str, str],
    *,
    region: str | None,
    received_at: datetime,
    submission_id: str,
    client_ip: str | None = None,
    page: str | None = None,
    referrer: str | None = None,
) -> InboundContact:
    """Map, check and normalize one submission; raises `FormError` naming the offending field."""
    canonical: dict[str, str] = {}
    extras: dict[str, str] = {}
    for posted, raw in fields.items():
        value = _clean(raw)
        if not value or posted == form.honeypot:
            continue
        target = form.canonical(posted)
        if target is None:
            extras.setdefault(posted.strip(), value)
        elif target not in canonical:
            # "phone" and "tel" both posted: the first non-empty one wins, the rest are aliases.
            canonical[target] = value

    for name, value in canonical.items():
        limit = form.max_message_chars if name == "message" else form.max_field_chars
        if len(value) > limit:
            raise FormError("too_long", name, f"{name} is longer than {limit} characters")
    for name in form.required:
        if name not in canonical:
            raise FormError("required", name, f"{name} is required")
    if form.require_any and not any(name in canonical for name in form.require_any):
        # Point at the first one: that is the input a person is asked to fill.
        raise FormError("required", form.require_any[0], f"enter {' or '.join(form.require_any)}")

    phone = email = None
    if "phone" in canonical:
        try:
            phone = normalize_phone(canonical["phone"], region)
        except InvalidIdentity:
            raise FormError("invalid", "phone", "not a valid phone number") from None
    if "email" in canonical:
        try:
            email = normalize_email(canonical["email"])
        except InvalidIdentity:
            raise FormError("invalid", "email", "not a valid e-mail address") from None

    message = canonical.get("message", "")
    return InboundContact(
        channel=CHANNEL,
        # Scoped by form so two forms cannot collide on a client-chosen id.
        event_id=f"{form.key}:{submission_id}",
        source_id=phone or email or "",
        received_at=received_at,
        name=canonical.get("name"),
        phone=phone,
        email=email,
        text=message,
        subject=form.title,
        attributes=_attributes(form, extras, client_ip=client_ip, page=page, referrer=referrer),
        priority_hint=form.priority or None,
        identities=_identities(phone, email, message, region),
    )


def _identities(phone: str | None, email: str | None, message: str, region: str | None) -> tuple[IdentityClaim, ...]:
    # Typed into the phone / e-mail inputs: the client says these are theirs.
    claims = [IdentityClaim(kind, value, Confidence.STATED) for kind, value in (("phone", phone), ("email", email))
              if value]
    seen = {(c.kind, c.value) for c in claims}
    # Numbers written in the message may be a colleague's: weak claims that never merge contacts.
    for claim in mentioned_identities(message, region):
        if (claim.kind, claim.value) not in seen:
            seen.add((claim.kind, claim.value))
            claims.append(claim)
    return tuple(claims)


def _attributes(form: FormConfig, extras: Mapping[str, str], *, client_ip: str | None, page: str | None,
                referrer: str | None) -> dict[str, str]:
    attributes = {"form": form.key}
    if form.source:
        attributes["source"] = form.source
    if client_ip:
        attributes["client_ip"] = client_ip
    # The page the script reports beats the Referer header: browsers cut that to the origin cross-site.
    page = extras.get("page") or page
    referrer = extras.get("referrer") or extras.get("referer") or referrer
    for key, value in (("page", page), ("referrer", referrer)):
        if value:
            attributes[key] = _clean(value)[:_MAX_URL_CHARS]
    # Unknown fields (utm_*, "city", a product id) are kept, but bounded: they come from anyone.
    kept = 0
    for key, value in extras.items():
        if key in _RESERVED or key in {"page", "referrer", "referer"} or not key or len(key) > _MAX_KEY_CHARS:
            continue
        if kept >= form.max_extra_fields:
            break
        attributes[key] = value[:form.max_field_chars]
        kept += 1
    return attributes


def _clean(value: str) -> str:
    return _CONTROL.sub("", value).strip()
