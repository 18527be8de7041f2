"""The pipeline every channel feeds: InboundContact -> committed lead -> listeners (routing, screens)."""
from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from channels.types import Accepted, InboundContact, IntakeRefused, IntakeUnavailable
from crm_store.ingest import EventRefused, Ingestor, StoreUnavailable
from crm_store.types import IngestResult, RoutingHint
from gateway import logs
from gateway.attachments import AttachmentStore
from gateway.mapping import to_ingest_request
from gateway.metrics import Metrics

log = logging.getLogger(__name__)

Listener = Callable[[InboundContact, IngestResult], Awaitable[None]]
# Told the new contacts of one group commit at once (they are answered in the same turn of the loop).
BatchListener = Callable[[list[tuple[InboundContact, IngestResult]]], Awaitable[None]]


class Intake:
    """The `emit` given to every channel adapter; returns only after the contact is committed."""

    def __init__(self, ingestor: Ingestor, attachments: AttachmentStore,
                 routing: Callable[[InboundContact], RoutingHint | None] = lambda _: None,
                 metrics: Metrics | None = None,
                 pipeline: Callable[[InboundContact], str | None] = lambda _: None) -> None:
        self._pipeline = pipeline
        self._ingestor = ingestor
        self._metrics = metrics or Metrics()
        self._attachments = attachments
        self._routing = routing
        self._listeners: list[Listener] = []
        self._batch_listeners: list[BatchListener] = []
        self._committed: list[tuple[InboundContact, IngestResult]] = []    # for the batch listeners, this turn
        self._running: set[asyncio.Task[None]] = set()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def subscribe_batch(self, listener: BatchListener) -> None:
        self._batch_listeners.append(listener)

    async def emit(self, contact: InboundContact) -> Accepted:
        tags = logs.bind(channel=contact.channel)
        try:
            result = await self._measured(contact)
            tags += logs.bind(lead=result.lead_id)
            return self._accepted(contact, result)
        finally:
            logs.release(tags)

    async def _measured(self, contact: InboundContact) -> IngestResult:
        started = time.perf_counter()
        try:
            result = await self._ingest(contact)
        except Exception:
            self._metrics.intake_done(contact.channel, "refused", time.perf_counter() - started)
            raise
        self._metrics.intake_done(contact.channel, "duplicate" if result.duplicate else "accepted",
                                  time.perf_counter() - started)
        return result

    def _accepted(self, contact: InboundContact, result: IngestResult) -> Accepted:
        if not result.duplicate:
            # The contact (and its routing task) is durable: the sender is answered now, and
            # the listeners (offers to screens) run on without holding up the acknowledgement.
            if self._listeners:
                self._start(self._notify(contact, result))
            if self._batch_listeners:
                if not self._committed:
                    # A group commit wakes all its callers in one turn: one task then tells of them all,
                    # in a context of its own (not tagged with the first one's request and lead).
                    asyncio.get_running_loop().call_soon(self._notify_committed, context=contextvars.Context())
                self._committed.append((contact, result))
        return Accepted(result.lead_id, result.contact_id, result.interaction_id, result.duplicate)

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    def _notify_committed(self) -> None:
        committed, self._committed = self._committed, []
        if committed:       # `drain` may have told of them already
            self._start(self._notify_batch(committed))

    async def _ingest(self, contact: InboundContact) -> IngestResult:
        files = await self._attachments.save_all(contact.attachments) if contact.attachments else None
        try:
            return await self._ingestor.ingest(to_ingest_request(contact, files, self._routing(contact),
                                                                      self._pipeline(contact)))
        except StoreUnavailable as exc:
            raise IntakeUnavailable(str(exc)) from exc
        except EventRefused as exc:
            raise IntakeRefused(exc.message) from exc

    async def _notify(self, contact: InboundContact, result: IngestResult) -> None:
        for listener in self._listeners:
            try:
                await listener(contact, result)
            except Exception:
                log.exception("intake listener %r failed for lead %s", listener, result.lead_id)

    async def _notify_batch(self, committed: list[tuple[InboundContact, IngestResult]]) -> None:
        for listener in self._batch_listeners:
            try:
                await listener(committed)
            except Exception:
                log.exception("intake listener %r failed for leads %s", listener,
                              ", ".join(str(result.lead_id) for _, result in committed))

    async def drain(self) -> None:
        """Let listeners already started finish (at shutdown, before routing closes)."""
        while self._running or self._committed:
            self._notify_committed()
            await asyncio.gather(*self._running, return_exceptions=True)
