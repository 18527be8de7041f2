"""The pipeline every channel feeds: InboundContact -> committed lead -> listeners (routing, screens)."""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from channels.types import Accepted, InboundContact, IntakeUnavailable
from crm_store.ingest import Ingestor, StoreUnavailable
from crm_store.types import IngestResult
from gateway.attachments import AttachmentStore
from gateway.mapping import to_ingest_request

log = logging.getLogger(__name__)

Listener = Callable[[InboundContact, IngestResult], Awaitable[None]]


class Intake:
    """The `emit` given to every channel adapter; returns only after the contact is committed."""

    def __init__(self, ingestor: Ingestor, attachments: AttachmentStore) -> None:
        self._ingestor = ingestor
        self._attachments = attachments
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def emit(self, contact: InboundContact) -> Accepted:
        files = await self._attachments.save_all(contact.attachments) if contact.attachments else None
        try:
            result = await self._ingestor.ingest(to_ingest_request(contact, files))
        except StoreUnavailable as exc:
            raise IntakeUnavailable(str(exc)) from exc
        if not result.duplicate:
            for listener in self._listeners:
                # The contact is already durable: a failing listener must not fail the sender.
                try:
                    await listener(contact, result)
                except Exception:
                    log.exception("intake listener %r failed for lead %s", listener, result.lead_id)
        return Accepted(result.lead_id, result.contact_id, result.interaction_id, result.duplicate)
