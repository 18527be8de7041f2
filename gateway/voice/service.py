"""Calls in progress, carried out: leads for callers, pops on the phones that ring, the call's record.

Events of one call are handled in order (each waits for the one before it); different calls run
concurrently, so a slow card for one caller never delays the pop of another.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import replace
from functools import partial
from typing import Any


from channels.asterisk.contact import contact_of
from channels.asterisk.types import (
    CallAbandoned, CallAnswered, CallEnded, CallEvent, CallRinging, CallStarted, CallTransferred, MemberPaused,
    Direction, CallOutcome, RingStopped,
)
from crm_store import call_grants, calls
from crm_store.call_records import Callback, CallRecord, CallRecords
from crm_store.grouped_writes import GroupedWrites
from crm_store.ingest import Ingestor
from crm_store.session import Sessions
from gateway.auth_types import Principal
from gateway import frames
from gateway.mapping import pipeline_of, to_ingest_request
from gateway.notifier import Notifier
from gateway.routing.ports import TaskRouting
from gateway.work_settings import RoutingSettings
from gateway.voice.cards import CardReader, RecentCards
from gateway.voice.live import LiveCall
from gateway.voice.phones import PhoneBook
from gateway.voice.tasks import occupy_phone
from routing.types import Presence, Task

log = logging.getLogger(__name__)

MISSED = (CallOutcome.MISSED, CallOutcome.ABANDONED)
PBX_PAUSE = "paused on the phone"
CALLBACK_PRIORITY = 1     # above a new lead's 0: a client who already tried to reach us
VOICE = "voice"


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
        self._writes: set[asyncio.Task[None]] = set()     # frames on their way and writes beside the events
        self._phones = PhoneBook(sessions)
        self._recent = RecentCards()
        self._records = CallRecords(ingestor)
        # Each in the intake's next group commit, those of calls ringing or answered together in one job.
        self._grants = GroupedWrites(ingestor, call_grants.record_pops, "voice grants")
        self._answers = GroupedWrites(ingestor, calls.take_calls, "voice answers")
        self.active = True        # False while another process holds the voice lease (gateway/voice/lease.py)
        self.on_pop: Callable[[str, str], None] = lambda call_id, extension: None   # metrics

    # -- input --------------------------------------------------------------------------------------

    def on_event(self, event: CallEvent) -> None:
        """From the adapter (synchronously, in AMI order): queue behind the same call's earlier events.

        A call's start and a ring at a phone this process knows are carried out at once, from memory, when
        nothing of that call is still queued: the pop is on its way before this returns, whatever the
        database is doing."""
        if not self.active:
            return
        key = getattr(event, "call_id", None) or f"member:{getattr(event, 'extension', '')}"
        previous = self._chains.get(key)
        if previous is None and self._at_once(event):
            return
        task = asyncio.create_task(self._after(previous, event))
        self._chains[key] = task
        task.add_done_callback(lambda done: self._chains.pop(key) if self._chains.get(key) is done else None)

    def _at_once(self, event: CallEvent) -> bool:
        """Carry out a start or a ring from memory; False if it needs the database (then it is queued)."""
        if isinstance(event, CallStarted):
            self._started(event)
            return True
        if isinstance(event, CallRinging) and (call := self.calls.get(event.call_id)) is not None:
            known, user_id = self._phones.cached(event.extension)
            if known:
                self._pop(call, event, user_id)
            return known
        return False

    async def drain(self) -> None:
        while self._chains or self._writes or any(c.recorded and not c.recorded.done() for c in self.calls.values()):
            await asyncio.gather(*list(self._chains.values()), *list(self._writes),
                                 *[c.recorded for c in self.calls.values() if c.recorded is not None],
                                 return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        await self._phones.close()

    async def _after(self, previous: asyncio.Task[None] | None, event: CallEvent) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        try:
            await self._handle(event)
        except Exception:
            log.exception("call event failed: %r", event)

    async def _handle(self, event: CallEvent) -> None:
        if isinstance(event, CallStarted):
            self._started(event)
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

    def _started(self, event: CallStarted) -> None:
        # The pop must not wait for the database: the call's record (ingest) and its card are written and read
        # beside the call's events; the events that need the lead wait for `recorded`, the rings only briefly.
        cached = self._recent.get(event.caller)
        if cached is not None and event.lead_id not in (None, cached[0]):
            cached = None       # a click-to-call names its lead: another lead's card would mislead
        # The lead shown before the record is written (the one named, else the caller's last): `call.card` corrects it.
        call = LiveCall(event.call_id, event.lead_id or (cached[0] if cached else None), None, event)
        call.card = cached[1] if cached else None
        call.recorded = asyncio.create_task(self._record_start(call))
        # Logged here, once, whether or not a later event of the call waits for it (drain() takes the error
        # silently; a call that only rang had nothing else to say so).
        call.recorded.add_done_callback(partial(_log_failed_record, call.call_id))
        self.calls[event.call_id] = call

    async def _record_start(self, call: LiveCall) -> None:
        event = call.started
        contact = contact_of(event)
        request = to_ingest_request(contact, pipeline=pipeline_of(contact, self._routing))
        if event.direction is Direction.OUTBOUND:
            request = replace(request, direction=Direction.OUTBOUND.value)
        result = await self._ingestor.ingest(request)
        call.lead_id, call.interaction_id = result.lead_id, result.interaction_id
        card = await self._cards.read(result.lead_id)
        call.card, call.card_fresh = card, True
        self._recent.put(event.caller, result.lead_id, card)
        waiting, call.awaiting_card = call.awaiting_card & call.holding(), set()
        if waiting:
            await self._notifier.call_card(waiting, call, card)

    async def _ready(self, call: LiveCall) -> bool:
        """Wait for the call's record; False if it could not be written (the event is then dropped)."""
        if call.recorded is not None:
            await asyncio.wait([call.recorded])
            if call.recorded.exception() is not None:
                return False        # logged by _log_failed_record
        return call.lead_id is not None

    async def _ringing(self, call: LiveCall, event: CallRinging) -> None:
        """A ring behind other events of its call, or at a phone not in memory yet: the pop after a read."""
        self._pop(call, event, await self._phones.user_at(event.extension))

    def _pop(self, call: LiveCall, event: CallRinging, user_id: int | None) -> None:
        """`call.ringing` from what is in memory (the number, the PBX's name, a cached card); never a read.
        The grant that lets the user open the lead is written beside it, once the call's record is."""
        if user_id is None:
            return        # a phone no Switchboard user sits at: nobody to pop
        call.ringing.setdefault(event.extension, set()).add(user_id)
        call.rang_users.add(user_id)
        call.pops.append((user_id, event.extension, event.at))
        if event.transfer_from:
            call.transfer_from[event.extension] = event.transfer_from
        if not call.card_fresh:
            call.awaiting_card.add(user_id)        # `call.card` follows once the call's own card is read
        self._send(self._ring(user_id, call, event.extension))
        self._beside(call, self._grant(call, user_id, event))

    async def _ring(self, user_id: int, call: LiveCall, extension: str) -> None:
        await self._notifier.call_ringing(user_id, call, extension, call.card)
        self.on_pop(call.call_id, extension)       # the pop is written to the user's sockets

    async def _grant(self, call: LiveCall, user_id: int, event: CallRinging) -> None:
        if await self._ready(call):
            # Its user may open the lead from now on (a grant, written after the pop, never before it).
            lead_id = call.lead_id
            await self._grants.write((lead_id, user_id, call.call_id, event.extension, event.at))

    def _send(self, frame: Coroutine[Any, Any, None]) -> None:
        """A frame on its way now, in the order sent (each send starts in the order its task was made)."""
        task = asyncio.create_task(_logged(frame, "a call frame"))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    def _beside(self, call: LiveCall, write: Coroutine[Any, Any, None]) -> None:
        """A write that no frame waits for; the call's later writes wait for it (`_written`)."""
        task = asyncio.create_task(_logged(write, f"call {call.call_id}: a write beside its events"))
        call.writes.append(task)
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    @staticmethod
    async def _written(call: LiveCall) -> None:
        if call.writes:
            await asyncio.wait(call.writes)

    async def _ring_stopped(self, call: LiveCall, event: RingStopped) -> None:
        users = call.ringing.pop(event.extension, set())
        if users:
            await self._notifier.call_ring_stopped(users, call, event.reason.value)

    async def _answered(self, call: LiveCall, event: CallAnswered) -> None:
        users = call.ringing.pop(event.extension, set())
        user_id = min(users) if users else await self._phones.user_at(event.extension)
        previous = call.answered_by
        call.answered_by, call.answered_extension, call.answered_at = user_id, event.extension, event.at
        if previous is not None and previous != user_id:
            await self._release_phone(call, previous)      # a transfer the tracker did not report: free them anyway
        if user_id is None:
            return
        ready = await self._ready(call)
        if ready:
            await self._notifier.call_answered(user_id, call, event.extension)
        if user_id not in call.phone_tasks:
            call.phone_tasks[user_id] = await occupy_phone(self._tasks, call_id=call.call_id, user_id=user_id,
                                                           now=event.at)
        if not ready:
            return
        await self._written(call)
        lead_id, rang_at = call.lead_id, next((at for u, _, at in call.pops if u == user_id), event.at)
        inbound = call.started.direction is Direction.INBOUND
        # Answering is accepting the call: the lead is the operator's (a click-to-call keeps a colleague's lead theirs).
        await self._answers.write(calls.Answer(lead_id, user_id, call.call_id, rang_at, event.at, reassign=inbound))
        call.takers.append(user_id)

    async def _transferred(self, call: LiveCall, event: CallTransferred) -> None:
        call.transfer_from[event.to_extension] = event.from_extension
        call.transfers.append({"kind": event.kind, "from": event.from_extension, "to": event.to_extension,
                               "at": event.at.isoformat()})
        await self._notifier.call_transferred(call, event.to_extension, event.kind)
        leaving = call.answered_by
        if leaving is not None and (event.from_extension is None or event.from_extension == call.answered_extension):
            # The call left them (blind: now; attended: the colleague's answer follows): their phone is free.
            call.answered_by = None
            await self._release_phone(call, leaving)

    async def _ended(self, call: LiveCall, event: CallEnded) -> None:
        self.calls.pop(call.call_id, None)
        placed_by = self.originated.pop(call.call_id, None)
        for user_id in list(call.phone_tasks):
            await self._release_phone(call, user_id)
        if not await self._ready(call):
            return
        await self._written(call)
        inbound = call.started.direction is Direction.INBOUND
        missed = event.outcome in MISSED and inbound
        if placed_by is None and not inbound and call.started.extension:
            placed_by = await self._phones.user_at(call.started.extension)
        holders = {u for u in [await self._phones.user_at(ext) for ext in event.holders] if u is not None}
        written = await self._records.write(self._record(call, event, missed, placed_by))
        if written.new_callback is not None:
            owner = str(written.owner_id) if written.owner_id is not None else None
            await self._tasks.add_task(Task(id=written.new_callback, channel=VOICE, priority=CALLBACK_PRIORITY,
                                                 queue=self._callback_queue(call), owner=owner,
                                                 created=event.at.timestamp()))
        if written.settled is not None:
            await self._tasks.end_task(written.settled)
        for other in written.also_settled:
            await self._tasks.end_task(other)
        recipients = holders if event.holders else call.everyone()
        await self._notifier.call_ended(recipients, call, event, missed, written.new_callback or written.collapsed_into)

    def _record(self, call: LiveCall, event: CallEnded, missed: bool, placed_by: int | None) -> CallRecord:
        legs = [{"extension": leg.extension, "user_id": self._phones.known(leg.extension), "answered": leg.answered,
                 "wait_seconds": leg.wait_seconds, "talk_seconds": leg.talk_seconds,
                 "transfer_from": leg.transfer_from, "transferred_to": leg.transferred_to} for leg in event.legs]
        talk = round(sum(leg.talk_seconds for leg in event.legs if leg.answered), 3) if event.legs else event.talk_seconds
        callback = Callback(self._callback_queue(call), CALLBACK_PRIORITY, event.at)
        assert call.lead_id is not None and call.interaction_id is not None
        return CallRecord(
            call.call_id, call.lead_id, call.interaction_id, {
                "status": "ended", "outcome": event.outcome.value, "caller_name": call.started.caller_name,
                "answered_by": call.takers[-1] if call.takers else None, "answered_extension": event.answered_by,
                "answered_at": call.answered_at.isoformat() if call.answered_at else None,
                "wait_seconds": event.wait_seconds, "talk_seconds": talk, "legs": legs,
                "hangup_cause": event.cause, "hangup_cause_text": event.cause_text, "recording": event.recording,
                "rang": list(event.rang), "transfers": call.transfers, "ended_at": event.at.isoformat(),
                "placed_by": placed_by},
            callback=callback if missed else None,
            settles=event.outcome is CallOutcome.ANSWERED,      # the client was reached, whichever way the call went
            placed_by=placed_by, follow_up=callback, ended_at=event.at)

    async def _release_phone(self, call: LiveCall, user_id: int) -> None:
        task = call.phone_tasks.pop(user_id, None)
        if task is not None:
            await self._tasks.end_task(task.encode())

    def _callback_queue(self, call: LiveCall) -> str:
        queue = call.started.queue
        return queue if queue and queue in self._routing.queues else "default"

    # -- presence from the phone ---------------------------------------------------------------------

    async def _paused(self, event: MemberPaused) -> None:
        user_id = await self._phones.user_at(event.extension)
        if user_id is None:
            return
        state = await self._tasks.agent(user_id)
        if state is None:
            return
        if event.paused and state.presence is Presence.AVAILABLE:
            await self._tasks.set_presence(user_id, Presence.BREAK, event.reason or PBX_PAUSE, source="pbx")
        elif not event.paused and state.presence is Presence.BREAK and state.reason not in ("disconnected",):
            await self._tasks.set_presence(user_id, Presence.AVAILABLE, None, source="pbx")

    async def wallboard(self, payload: dict[str, Any]) -> None:
        """The supervisor's view of calls: each agent's current call, and callbacks owed per queue."""
        talking = {c.answered_by: c for c in self.calls.values() if c.answered_by is not None}
        for row in payload.get("agents", []):
            row["call"] = frames.agent_call(talking.get(row["user_id"]))
            row["state"] = frames.shown_state(row["presence"], row["reason"], row["activity"], row["call"] is not None)
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
            # The pop from memory first; the card is read again after it (the operator may have edited it).
            extension = next((ext for ext, users in call.ringing.items() if who.user_id in users),
                             call.answered_extension or "")
            await self._notifier.call_ringing(who.user_id, call, extension, call.card)
            if call.answered_by == who.user_id:
                await self._notifier.call_answered(who.user_id, call, call.answered_extension)
        for call in mine:
            if call.lead_id is not None:
                call.card = await self._cards.read(call.lead_id)
                call.card_fresh = True
                await self._notifier.call_card({who.user_id}, call, call.card)


async def _logged(step: Coroutine[Any, Any, None], what: str) -> None:
    try:
        await step
    except Exception:
        log.exception("%s failed", what)


def _log_failed_record(call_id: str, recorded: asyncio.Task[None]) -> None:
    failed = None if recorded.cancelled() else recorded.exception()
    if failed is not None:
        log.error("call %s: its record could not be written", call_id, exc_info=failed)
