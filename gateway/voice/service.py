"""Calls in progress, carried out: leads for callers, pops on the phones that ring, the call's record.

Events of one call are handled in order (each waits for the one before it); different calls run
concurrently, so a slow card for one caller never delays the pop of another.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.asterisk.contact import contact_of
from channels.asterisk.types import (
    CallAbandoned, CallAnswered, CallEnded, CallEvent, CallRinging, CallStarted, CallTransferred, MemberPaused,
    Outcome, RingStopped,
)
from crm_store import audit, calls, leads
from crm_store.errors import NotFound
from crm_store.ingest import Ingestor
from gateway.api.serialize import card_json
from gateway.auth_types import Principal
from gateway.dispatch import Dispatcher
from gateway.frames import ROUTING
from gateway.mapping import to_ingest_request
from gateway.settings import RoutingSettings
from gateway.voice.live import LiveCall
from gateway.voice.tasks import occupy_phone, owe_callback, settle_callback
from routing.types import Presence

log = logging.getLogger(__name__)

MISSED = (Outcome.MISSED, Outcome.ABANDONED)
PBX_PAUSE = "paused on the phone"


class VoiceService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], ingestor: Ingestor, dispatcher: Dispatcher,
                 routing: RoutingSettings, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._sessions = sessions
        self._ingestor = ingestor
        self._dispatcher = dispatcher
        self._routing = routing
        self._clock = clock
        self.calls: dict[str, LiveCall] = {}
        self.originated: dict[str, int] = {}          # click-to-call id -> the user who placed it
        self._chains: dict[str, asyncio.Task[None]] = {}
        self.handled = 0

    # -- input --------------------------------------------------------------------------------------

    def on_event(self, event: CallEvent) -> None:
        """From the adapter (synchronously, in AMI order): queue behind the same call's earlier events."""
        key = getattr(event, "call_id", None) or f"member:{getattr(event, 'extension', '')}"
        previous = self._chains.get(key)
        task = asyncio.create_task(self._after(previous, event))
        self._chains[key] = task
        task.add_done_callback(lambda done: self._chains.pop(key) if self._chains.get(key) is done else None)

    async def drain(self) -> None:
        while self._chains:
            await asyncio.gather(*list(self._chains.values()), return_exceptions=True)

    async def _after(self, previous: asyncio.Task[None] | None, event: CallEvent) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        try:
            await self._handle(event)
        except Exception:
            log.exception("call event failed: %r", event)
        self.handled += 1

    async def _handle(self, event: CallEvent) -> None:
        if isinstance(event, CallStarted):
            await self._started(event)
        elif isinstance(event, MemberPaused):
            await self._paused(event)
        elif (call := self.calls.get(event.call_id)) is not None:
            if isinstance(event, CallRinging):
                await self._ringing(call, event)
            elif isinstance(event, RingStopped):
                await self._ring_stopped(call, event)
            elif isinstance(event, CallAnswered):
                await self._answered(call, event)
            elif isinstance(event, CallTransferred):
                await self._transferred(call, event)
            elif isinstance(event, CallAbandoned):
                pass      # the end of the call says it all (outcome abandoned, wait)
            elif isinstance(event, CallEnded):
                await self._ended(call, event)
        elif isinstance(event, CallEnded) and event.call_id in self.originated:
            # A click-to-call that never reached the operator's phone: tell them why.
            user_id = self.originated.pop(event.call_id)
            await self._dispatcher.notify({user_id}, "call.ended", {
                "call_id": event.call_id, "lead_id": None, "outcome": event.outcome.value,
                "reason": event.cause_text, "talk_seconds": 0, "missed": False})

    # -- the call's life ---------------------------------------------------------------------------

    async def _started(self, event: CallStarted) -> None:
        result = await self._ingestor.ingest(to_ingest_request(contact_of(event)))
        self.calls[event.call_id] = LiveCall(event.call_id, result.lead_id, result.interaction_id, event)
        async with self._sessions() as session, session.begin():
            await calls.update_call(session, event.call_id, {
                "direction": event.direction.value, "caller": event.caller, "caller_name": event.caller_name,
                "queue": event.queue, "did": event.did, "status": "ringing", "started_at": event.at.isoformat()})

    async def _ringing(self, call: LiveCall, event: CallRinging) -> None:
        async with self._sessions() as session, session.begin():
            users = await calls.users_by_extension(session, {event.extension})
            user = users.get(event.extension)
            if user is None:
                return        # a phone no Switchboard user sits at: nobody to pop
            card = await self._card(session, call.lead_id)
            audit.record(session, "lead.popped", self._clock(), user_id=user.id, lead_id=call.lead_id,
                         detail={"call_id": call.call_id, "extension": event.extension})
        call.ringing.setdefault(event.extension, set()).add(user.id)
        call.rang_users.add(user.id)
        if event.transfer_from:
            call.transfer_from[event.extension] = event.transfer_from
        await self._dispatcher.notify({user.id}, "call.ringing", call.ringing_payload(event.extension, card))

    async def _ring_stopped(self, call: LiveCall, event: RingStopped) -> None:
        users = call.ringing.pop(event.extension, set())
        if users:
            await self._dispatcher.notify(users, "offer.cancelled", {
                "call_id": call.call_id, "lead_id": call.lead_id, "reason": event.reason.value})

    async def _answered(self, call: LiveCall, event: CallAnswered) -> None:
        users = call.ringing.pop(event.extension, set())
        async with self._sessions() as session, session.begin():
            if not users:
                found = await calls.users_by_extension(session, {event.extension})
                users = {found[event.extension].id} if event.extension in found else set()
            user_id = min(users) if users else None
            await calls.update_call(session, call.call_id, {
                "status": "talking", "answered_by": user_id, "answered_extension": event.extension,
                "answered_at": event.at.isoformat(), "wait_seconds": round(event.wait_seconds, 3)})
        previous = call.answered_by
        call.answered_by, call.answered_extension, call.answered_at = user_id, event.extension, event.at
        if previous is not None and previous != user_id:
            await self._release_phone(call)
        if user_id is None:
            return
        await self._dispatcher.notify({user_id}, "call.answered", {
            "call_id": call.call_id, "lead_id": call.lead_id, "extension": event.extension})
        if call.phone_task is None:
            call.phone_task = await occupy_phone(self._sessions, self._dispatcher, call_id=call.call_id,
                                                 user_id=user_id, lead_id=call.lead_id, now=event.at)
        if call.started.direction.value == "inbound":
            await settle_callback(self._sessions, self._dispatcher, call.lead_id)

    async def _transferred(self, call: LiveCall, event: CallTransferred) -> None:
        call.transfer_from[event.to_extension] = event.from_extension
        async with self._sessions() as session, session.begin():
            await calls.update_call(session, call.call_id, {}, append={"transfers": {
                "kind": event.kind, "from": event.from_extension, "to": event.to_extension,
                "at": event.at.isoformat()}})
        if call.answered_by is not None:
            await self._dispatcher.notify({call.answered_by}, "call.transferred", {
                "call_id": call.call_id, "lead_id": call.lead_id, "to_extension": event.to_extension,
                "kind": event.kind})

    async def _ended(self, call: LiveCall, event: CallEnded) -> None:
        self.calls.pop(call.call_id, None)
        self.originated.pop(call.call_id, None)
        missed = event.outcome in MISSED and call.started.direction.value == "inbound"
        async with self._sessions() as session, session.begin():
            await calls.update_call(session, call.call_id, {
                "status": "ended", "outcome": event.outcome.value, "wait_seconds": event.wait_seconds,
                "talk_seconds": event.talk_seconds, "hangup_cause": event.cause, "hangup_cause_text": event.cause_text,
                "recording": event.recording, "rang": list(event.rang), "answered_extension": event.answered_by,
                "ended_at": event.at.isoformat()})
        await self._release_phone(call)
        callback: dict[str, Any] = {}
        if missed:
            task_id, collapsed = await owe_callback(
                self._sessions, self._dispatcher, lead_id=call.lead_id, interaction_id=call.interaction_id,
                queue=self._callback_queue(call), priority=1, now=event.at)
            callback = {"callback_task": task_id, "collapsed": collapsed}
        elif event.outcome is Outcome.ANSWERED:
            await settle_callback(self._sessions, self._dispatcher, call.lead_id)
        if callback:
            async with self._sessions() as session, session.begin():
                await calls.update_call(session, call.call_id, callback)
        await self._dispatcher.notify(call.everyone(), "call.ended", {
            "call_id": call.call_id, "lead_id": call.lead_id, "outcome": event.outcome.value,
            "talk_seconds": event.talk_seconds, "wait_seconds": event.wait_seconds, "missed": missed,
            "recording": event.recording})

    async def _release_phone(self, call: LiveCall) -> None:
        if call.phone_task is not None:
            task, call.phone_task = call.phone_task, None
            await self._dispatcher.end_task(task)

    def _callback_queue(self, call: LiveCall) -> str:
        queue = call.started.queue
        return queue if queue and queue in self._routing.queues else "default"

    # -- presence from the phone ---------------------------------------------------------------------

    async def _paused(self, event: MemberPaused) -> None:
        async with self._sessions() as session:
            user = (await calls.users_by_extension(session, {event.extension})).get(event.extension)
        if user is None:
            return
        [state] = await self._dispatcher.engine.backend.get_agents([str(user.id)])
        if state is None:
            return
        if event.paused and state.presence is Presence.AVAILABLE:
            await self._dispatcher.set_presence(user.id, Presence.BREAK, event.reason or PBX_PAUSE)
        elif not event.paused and state.presence is Presence.BREAK and state.reason not in ("disconnected",):
            await self._dispatcher.set_presence(user.id, Presence.AVAILABLE, None)

    # -- screens ----------------------------------------------------------------------------------

    async def on_connect(self, who: Principal) -> None:
        """A (re)connecting screen gets the calls ringing or talking at its phone again."""
        mine = [c for c in self.calls.values()
                if any(who.user_id in users for users in c.ringing.values()) or c.answered_by == who.user_id]
        if not mine:
            return
        async with self._sessions() as session:
            for call in mine:
                card = await self._card(session, call.lead_id)
                extension = next((ext for ext, users in call.ringing.items() if who.user_id in users),
                                 call.answered_extension or "")
                await self._dispatcher.notify({who.user_id}, "call.ringing", call.ringing_payload(extension, card))
                if call.answered_by == who.user_id:
                    await self._dispatcher.notify({who.user_id}, "call.answered", {
                        "call_id": call.call_id, "lead_id": call.lead_id, "extension": call.answered_extension})

    async def _card(self, session: AsyncSession, lead_id: int) -> dict[str, Any] | None:
        try:
            return card_json(await leads.card(session, ROUTING, lead_id, timeline_limit=20))
        except NotFound:
            return None
