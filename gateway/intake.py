"""The pipeline every channel feeds: InboundContact -> committed lead -> listeners (routing, screens)."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from channels.types import Accepted, InboundContact, IntakeRefused, IntakeUnavailable
from crm_store.ingest import EventRefused, Ingestor, StoreUnavailable
from crm_store.types import IngestResult, RoutingHint
from gateway.attachments import AttachmentStore
from gateway.mapping import to_ingest_request

log = logging.getLogger(__name__)

Listener = Callable[[InboundContact, IngestResult], Awaitable[None]]


class Intake:
    """The `emit` given to every channel adapter; returns only after the contact is committed."""

    def __init__(self, ingestor: Ingestor, attachments: AttachmentStore,
                 routing: Callable[[InboundContact], RoutingHint | None] = lambda _: None) -> None:
        self._ingestor = ingestor
        self._attachments = attachments
        self._routing = routing
        self._listeners: list[Listener] = []
        self._running: set[asyncio.Task[None]] = set()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def emit(self, contact: InboundContact) -> Accepted:
        files = await self._attachments.save_all(contact.attachments) if contact.attachments else None
        try:
            result = await self._ingestor.ingest(to_ingest_request(contact, files, self._routing(contact)))
        except StoreUnavailable as exc:
            raise IntakeUnavailable(str(exc)) from exc
        except EventRefused as exc:
            raise IntakeRefused(exc.message) from exc
        if not result.duplicate and self._listeners:
            # The contact (and its routing task) is durable: the sender is answered now, and
            # the listeners (offers to screens) run on without holding up the acknowledgement.
            task = asyncio.create_task(self._notify(contact, result))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return Accepted(result.lead_id, result.contact_id, result.interaction_id, result.duplicate)

    async def _notify(self, contact: InboundContact, result: IngestResult) -> None:
        for listener in self._listeners:
            try:
                await listener(contact, result)
            except Exception:
                log.exception("intake listener %r failed for lead %s", listener, result.lead_id)

    async def drain(self) -> None:
        """Let listeners already started finish (at shutdown, before routing closes)."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
