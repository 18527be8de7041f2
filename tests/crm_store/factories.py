"""Factories for crm_store values, so tests say only what matters to them."""
from __future__ import annotations

import itertools
from datetime import UTC, datetime

from crm_store.types import Claim, IngestRequest

_ids = itertools.count(1)
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def phone(value: str, confidence: str = "stated") -> Claim:
    return Claim("phone", value, confidence != "mentioned", confidence)


def email(value: str, confidence: str = "stated") -> Claim:
    return Claim("email", value, confidence != "mentioned", confidence)


def telegram(value: str) -> Claim:
    return Claim("telegram", value, True, "verified")


def request(*claims: Claim, channel: str = "form", event_id: str | None = None, **fields: object) -> IngestRequest:
    return IngestRequest(
        channel=channel,
        event_id=event_id or f"evt-{next(_ids)}",
        received_at=fields.pop("received_at", T0),  # type: ignore[arg-type]
        claims=claims,
        **fields,  # type: ignore[arg-type]
    )
