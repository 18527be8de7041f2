"""Pure converters between the packages' own types; the only place that knows both sides."""
from __future__ import annotations

from channels.types import Confidence, IdentityClaim, InboundContact
from crm_store.types import Claim, IngestRequest

# Attributes that say where a lead came from; kept on the lead for source-effectiveness reports.
SOURCE_KEYS = ("form", "page", "referrer", "did", "queue", "deep_link", "start_payload", "mailbox", "bot")


def claims_of(contact: InboundContact) -> tuple[Claim, ...]:
    identities = list(contact.identities)
    kinds = {(i.kind, i.value) for i in identities}
    # Adapters that fill only `phone` / `email` still get their identities resolved.
    for kind, value in (("phone", contact.phone), ("email", contact.email)):
        if value and (kind, value) not in kinds:
            identities.append(IdentityClaim(kind, value, Confidence.STATED))
    return tuple(Claim(i.kind, i.value, i.confidence.strong, i.confidence.value) for i in identities)


def primary_kind(contact: InboundContact) -> str | None:
    """The identity the channel itself proves (caller id, mail sender, messenger account)."""
    for identity in contact.identities:
        if identity.confidence is Confidence.VERIFIED:
            return identity.kind
    return None


def source_of(contact: InboundContact) -> dict[str, str]:
    source = {"channel": contact.channel}
    for key, value in contact.attributes.items():
        if key in SOURCE_KEYS or key.startswith("utm_"):
            source[key] = value
    return source


def to_ingest_request(contact: InboundContact) -> IngestRequest:
    return IngestRequest(
        channel=contact.channel,
        event_id=contact.event_id,
        received_at=contact.received_at,
        claims=claims_of(contact),
        primary_kind=primary_kind(contact),
        name=contact.name,
        text=contact.text,
        subject=contact.subject,
        thread_ref=contact.thread_ref,
        attributes=dict(contact.attributes),
        source=source_of(contact),
        priority=contact.priority_hint or 0,
    )
