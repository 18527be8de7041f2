"""Calls in progress, carried out: leads for callers, pops on the phones that ring, the call's record.

Events of one call are handled in order (each waits for the one before it); different calls run
concurrently, so a slow card for one caller never delays the pop of another.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any


from channels.asterisk.contact import contact_of
from channels.asterisk.types import (
    CallAbandoned, CallAnswered, CallEnded, CallEvent, CallRinging, CallStarted, CallTransferred, MemberPaused,
    Direction, CallOutcome, RingStopped,
)
from crm_store import calls
from crm_store.call_records import Callback, CallRecord, CallRecords
from crm_store.ingest import Ingestor
from crm_store.session import Sessions
from gateway.auth_types import Principal
from gateway import frames
from gateway.mapping import to_ingest_request
from gateway.notifier import Notifier
from gateway.routing.ports import TaskRouting
from gateway.settings import RoutingSettings
from gateway.voice.cards import CardReader
from gateway.voice.live import LiveCall
from gateway.voice.tasks import occupy_phone
from routing.types import Presence, Task

log = logging.getLogger(__name__)

MISSED = (CallOutcome.MISSED, CallOutcome.ABANDONED)
PBX_PAUSE = "paused on the phone"
CALLBACK_PRIORITY = 1     # above a new lead's 0: a client who already tried to reach us
VOICE = "voice"
EXTENSION_TTL = 5.0      # seconds a phone's user is remembered: an admin's change shows within that


class VoiceService:
    """Carries out what the voice adapter reports; the gateway's only voice state (calls in progress)."""

    def __init__(self, sessions: Sessions, ingestor: Ingestor, tasks: TaskRouting,
                 notifier: Notifier, routing: RoutingSettings, cards: CardReader) -> None:
        self._sessions = sessions
        self._ingestor = ingestor
        self._tasks = tasks
        self._notifier = notifier
        self._routing = routing
        self._cards = cards
        self.calls: dict[str, LiveCall] = {}
        self.originated: dict[str, int] = {}          # click-to-call id -> the user who placed it
        self._chains: dict[str, asyncio.Task[None]] = {}
        self._extensions: dict[str, tuple[int, float]] = {}
        self._records = CallRecords(ingestor)
        self.active = True        # False while another process holds the voice lease (gateway/voice/lease.py)
        self.on_pop: Callable[[str, str], None] = lambda call_id, extension: None   # metrics

    # -- input --------------------------------------------------------------------------------------

    def on_event(self, event: CallEvent) -> None:
        """From the adapter (synchronously, in AMI order): queue behind the same call's earlier events."""
        if not self.active:
            return
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
            await self._notifier.call_not_connected(user_id, event)

    # -- the call's life ---------------------------------------------------------------------------

    async def _started(self, event: CallStarted) -> None:
        # The call's record is the interaction ingest writes; what happens next is written once, at the end.
        result = await self._ingestor.ingest(to_ingest_request(contact_of(event)))
        call = LiveCall(event.call_id, result.lead_id, result.interaction_id, event)
        self.calls[event.call_id] = call
        # Read the card now, while the caller waits for a phone to ring: the pop then only has to send it.
        await self._load_card(call)

    async def _ringing(self, call: LiveCall, event: CallRinging) -> None:
        user_id = await self._user_at(event.extension)
        if user_id is None:
            return        # a phone no Switchboard user sits at: nobody to pop
        card = call.card if call.card is not None else await self._load_card(call)
        call.ringing.setdefault(event.extension, set()).add(user_id)
        call.rang_users.add(user_id)
        call.pops.append((user_id, event.extension, event.at))
        if event.transfer_from:
            call.transfer_from[event.extension] = event.transfer_from
        await self._notifier.call_ringing(user_id, call, event.extension, card)
        self.on_pop(call.call_id, event.extension)

    async def _ring_stopped(self, call: LiveCall, event: RingStopped) -> None:
        users = call.ringing.pop(event.extension, set())
        if users:
            await self._notifier.call_ring_stopped(users, call, event.reason.value)

    async def _answered(self, call: LiveCall, event: CallAnswered) -> None:
        users = call.ringing.pop(event.extension, set())
        user_id = min(users) if users else await self._user_at(event.extension)
        previous = call.answered_by
        call.answered_by, call.answered_extension, call.answered_at = user_id, event.extension, event.at
        if previous is not None and previous != user_id:
            await self._release_phone(call)        # transferred: the first operator is free again
        if user_id is None:
            return
        await self._notifier.call_answered(user_id, call, event.extension)
        if call.phone_task is None:
            call.phone_task = await occupy_phone(self._tasks, call_id=call.call_id, user_id=user_id, now=event.at)

    async def _transferred(self, call: LiveCall, event: CallTransferred) -> None:
        call.transfer_from[event.to_extension] = event.from_extension
        call.transfers.append({"kind": event.kind, "from": event.from_extension, "to": event.to_extension,
                               "at": event.at.isoformat()})
        await self._notifier.call_transferred(call, event.to_extension, event.kind)

    async def _ended(self, call: LiveCall, event: CallEnded) -> None:
        self.calls.pop(call.call_id, None)
        self.originated.pop(call.call_id, None)
        missed = event.outcome in MISSED and call.started.direction is Direction.INBOUND
        await self._release_phone(call)
        written = await self._records.write(CallRecord(
            call.call_id, call.lead_id, call.interaction_id, {
                "status": "ended", "outcome": event.outcome.value, "caller_name": call.started.caller_name,
                "answered_by": call.answered_by, "answered_extension": event.answered_by,
                "answered_at": call.answered_at.isoformat() if call.answered_at else None,
                "wait_seconds": event.wait_seconds, "talk_seconds": event.talk_seconds,
                "hangup_cause": event.cause, "hangup_cause_text": event.cause_text, "recording": event.recording,
                "rang": list(event.rang), "transfers": call.transfers, "ended_at": event.at.isoformat()},
            tuple(call.pops),
            callback=Callback(self._callback_queue(call), CALLBACK_PRIORITY, event.at) if missed else None,
            settles=event.outcome is CallOutcome.ANSWERED))      # the client was reached, whichever way the call went
        if written.new_callback is not None:
            owner = str(written.owner_id) if written.owner_id is not None else None
            await self._tasks.add_task(Task(id=written.new_callback, channel=VOICE, priority=CALLBACK_PRIORITY,
                                                 queue=self._callback_queue(call), owner=owner,
                                                 created=event.at.timestamp()))
        if written.settled is not None:
            await self._tasks.end_task(written.settled)
        await self._notifier.call_ended(call, event, missed, written.new_callback or written.collapsed_into)

    async def _user_at(self, extension: str) -> int | None:
        """Who sits at a phone; remembered briefly, since every ring of every call asks (a miss is not
        remembered: a user given this extension a moment ago must pop at once)."""
        now = time.monotonic()
        cached = self._extensions.get(extension)
        if cached is not None and cached[1] > now:
            return cached[0]
        async with self._sessions() as session:
            user = (await calls.users_by_extension(session, {extension})).get(extension)
        if user is None:
            return None
        self._extensions[extension] = (user.id, now + EXTENSION_TTL)
        return user.id

    async def _release_phone(self, call: LiveCall) -> None:
        if call.phone_task is not None:
            task, call.phone_task = call.phone_task, None
            await self._tasks.end_task(task.encode())

    def _callback_queue(self, call: LiveCall) -> str:
        queue = call.started.queue
        return queue if queue and queue in self._routing.queues else "default"

    # -- presence from the phone ---------------------------------------------------------------------

    async def _paused(self, event: MemberPaused) -> None:
        user_id = await self._user_at(event.extension)
        if user_id is None:
            return
        state = await self._tasks.agent(user_id)
        if state is None:
            return
        if event.paused and state.presence is Presence.AVAILABLE:
            await self._tasks.set_presence(user_id, Presence.BREAK, event.reason or PBX_PAUSE)
        elif not event.paused and state.presence is Presence.BREAK and state.reason not in ("disconnected",):
            await self._tasks.set_presence(user_id, Presence.AVAILABLE, None)

    async def wallboard(self, payload: dict[str, Any]) -> None:
        """The supervisor's view of calls: each agent's current call, and callbacks owed per queue."""
        talking = {c.answered_by: c for c in self.calls.values() if c.answered_by is not None}
        for row in payload.get("agents", []):
            row["call"] = frames.agent_call(talking.get(row["user_id"]))
        async with self._sessions() as session:
            waiting = await calls.callbacks_waiting(session)
        for name, queue in payload.get("queues", {}).items():
            queue["callbacks_waiting"] = waiting.get(name, 0)

    # -- screens ----------------------------------------------------------------------------------

    async def on_connect(self, who: Principal) -> None:
        """A (re)connecting screen gets the calls ringing or talking at its phone again."""
        mine = [c for c in self.calls.values()
                if any(who.user_id in users for users in c.ringing.values()) or c.answered_by == who.user_id]
        if not mine:
            return
        for call in mine:
            card = await self._load_card(call)      # fresh: the operator may have edited it meanwhile
            extension = next((ext for ext, users in call.ringing.items() if who.user_id in users),
                             call.answered_extension or "")
            await self._notifier.call_ringing(who.user_id, call, extension, card)
            if call.answered_by == who.user_id:
                await self._notifier.call_answered(who.user_id, call, call.answered_extension)

    async def _load_card(self, call: LiveCall) -> dict[str, Any] | None:
        call.card = await self._cards.read(call.lead_id)
        return call.card
