"""An inbound event made storable on both engines before it reaches a transaction.

SQLite stores anything; PostgreSQL refuses U+0000 and lone surrogates in text and enforces
VARCHAR lengths, so a mail with a 300-character From name used to be refused forever there
while every SQLite test passed. Names, subjects and texts are TEXT columns and are kept whole;
the keys that must stay short (event ids, thread refs, identity values) are cut on a character
boundary with a digest of the full value, so two long keys never collide by their cut.
"""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from itertools import chain
from typing import Any

from crm_store.models import Identity, Interaction
from crm_store.types import IngestRequest

EVENT_ID_MAX = Interaction.__table__.c.event_id.type.length
THREAD_REF_MAX = Interaction.__table__.c.thread_ref.type.length
IDENTITY_MAX = Identity.__table__.c.value.type.length
_DIGEST = 32


def clean_text(value: str) -> str:
    """`value` without NUL characters and with lone surrogates (undecodable bytes) replaced; itself when clean."""
    if value.isascii():         # no surrogate is ASCII: spares the encode of every attribute of every event
        return value.replace("\x00", "") if "\x00" in value else value
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def _is_clean(text: str) -> bool:
    """`clean_text(text)` would return `text` itself."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def fit_key(value: str, limit: int | None) -> str:
    """`value` cleaned; if longer than `limit` characters, its head plus a digest of the whole."""
    value = clean_text(value)
    if limit is None or len(value) <= limit:
        return value
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:_DIGEST]
    return f"{value[:limit - _DIGEST - 1]}#{digest}"


def _clean(value: Any) -> Any:
    """Strings anywhere in attribute values (lists and mappings the channels built) cleaned; `value` itself when
    nothing in it changed (most events: no copy, and no comparison of the copy with the original)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict | Mapping):
        # The usual attributes: text keys and values, all clean, seen in one look at their joined text.
        if all(type(k) is str and type(v) is str for k, v in value.items()) and \
                _is_clean("".join(chain.from_iterable(value.items()))):
            return value
        items = [(k, v, clean_text(str(k)), _clean(v)) for k, v in value.items()]
        if all(new_k is k and new_v is v for k, v, new_k, new_v in items):
            return value
        return {new_k: new_v for _, _, new_k, new_v in items}
    if isinstance(value, list | tuple):
        cleaned = [_clean(v) for v in value]
        # A tuple comes back a list, as it is stored (JSON) and as it always came back.
        if isinstance(value, list) and all(new is old for new, old in zip(cleaned, value, strict=True)):
            return value
        return cleaned
    return value


def _optional(value: str | None) -> str | None:
    return clean_text(value) if value is not None else None


def storable(request: IngestRequest) -> IngestRequest:
    """`request` with every text cleaned and every key within its column; the same object when already so."""
    changes = {
        "event_id": fit_key(request.event_id, EVENT_ID_MAX),
        "thread_ref": fit_key(request.thread_ref, THREAD_REF_MAX) if request.thread_ref is not None else None,
        "name": _optional(request.name),
        "text": clean_text(request.text),
        "subject": _optional(request.subject),
    }
    changed = {k: v for k, v in changes.items() if v is not getattr(request, k)}
    values = [fit_key(c.value, IDENTITY_MAX) for c in request.claims]
    if any(v is not c.value for v, c in zip(values, request.claims, strict=True)):
        changed["claims"] = tuple(dataclasses.replace(c, value=v) for c, v in zip(request.claims, values, strict=True))
    attributes, source = _clean(request.attributes), _clean(request.source)
    if attributes is not request.attributes:
        changed["attributes"] = attributes
    if source is not request.source:
        changed["source"] = source
    # Most events need nothing: skip the copy (a frozen dataclass's replace is the costly part).
    return dataclasses.replace(request, **changed) if changed else request
