"""Routing wired to the store and the screens: tasks from new contacts, offers to sockets, accepts to leads.

The engine decides; this module carries its decisions out (persist, notify) and feeds it the
events it routes on: a new contact, a presence change, an accept or decline, a closed lead, a
timer at the next deadline. There is no polling loop.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.types import InboundContact
from crm_store import audit, leads, routing_log
from crm_store.models import User
from crm_store.types import IngestResult
from gateway import frames
from gateway.auth_types import Principal
from gateway.fanout import Fanout
from gateway.hub import FrameError, Hub
from gateway.mapping import agent_of, lead_of_task, task_for, task_of_row
from gateway.settings import RoutingSettings
from routing.engine import RoutingEngine
from routing.stats import compute_stats
from routing.events import (
    Event,
    OfferCancelled,
    OfferCreated,
    Outcome,
    PresenceChanged,
    RoutingError,
    TaskAssigned,
    TaskChanged,
)
from routing.types import Presence, Task

log = logging.getLogger(__name__)

PRESENCE_ALIASES = {"away": (Presence.BREAK, "away")}
# A call in progress on an operator's phone: a routing task taken at once (never offered to a screen),
# so that routing sees the operator busy for voice with less chat capacity, like any voice task.
PHONE_TASK_PREFIX = "call:"
PresenceListener = Callable[[int, Presence, "str | None"], Awaitable[None]]
WATCHER_ROLES = frozenset({"manager", "supervisor", "admin"})
STATS_DEBOUNCE = 0.25


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class Dispatcher:
    def __init__(self, engine: RoutingEngine, sessions: async_sessionmaker[AsyncSession], hub: Hub,
                 fanout: Fanout, settings: RoutingSettings, clock: Callable[[], float],
                 *, shared_deadline_check: float | None = None) -> None:
        self.engine = engine
        self._sessions = sessions
        self._hub = hub
        self._fanout = fanout
        self._settings = settings
        self._clock = clock
        self._lock = asyncio.Lock()          # one engine call at a time in this process
        self._timer: asyncio.TimerHandle | None = None
        self._shared_deadline_check = shared_deadline_check
        self._stats_timer: asyncio.TimerHandle | None = None
        self._stats_pending = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._names: dict[int, str] = {}          # wallboard rows show people, not ids
        self._since: dict[str, float] = {}        # when each agent's presence last changed here
        self.presence_listeners: list[PresenceListener] = []   # e.g. the PBX pauses queue members on break
        self.wallboard_extras: list[Callable[[dict[str, Any]], Awaitable[None]]] = []   # e.g. calls in progress

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self, users: list[User]) -> None:
        """Register agents and re-queue work that was waiting when the service stopped."""
        for user in users:
            await self._run(self.engine.upsert_agent(agent_of(user, self._settings)))
        async with self._sessions() as session:
            waiting = [t for t in await routing_log.open_tasks(session) if t.state in ("pending", "reserved")]
        for row in waiting:
            task = task_of_row(row)
            try:
                await self._run(self.engine.add_task(task))
            except RoutingError:
                pass   # a shared (Redis) backend still holds it: nothing was lost
        await self._reschedule()

    async def stop(self) -> None:
        for handle in (self._timer, self._stats_timer):
            if handle is not None:
                handle.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- inputs ---------------------------------------------------------------------------------
    async def on_contact(self, contact: InboundContact, result: IngestResult) -> None:
        """A committed inbound event: offer its task, or tell the manager already working the lead."""
        if result.task_id is not None:
            await self._run(self.engine.add_task(task_for(result, self._settings, self._clock())))
        elif result.assignee_id is not None:
            await self._fanout.to_users({result.assignee_id}, "message.received", {
                "lead_id": result.lead_id, "interaction_id": result.interaction_id, "channel": contact.channel,
                "text": contact.text, "subject": contact.subject, "at": contact.received_at.isoformat()})

    async def add_task(self, task: Task) -> Outcome:
        """Route a task whose row is already committed (a callback, a call in progress)."""
        return await self._run(self.engine.add_task(task))

    async def end_task(self, task_id: str) -> None:
        """Complete an assigned task, cancel a waiting one; a task routing no longer holds is just closed."""
        record = await self.engine.get_task(task_id)
        try:
            if record is not None and record.state.value in ("assigned", "wrapping"):
                await self._run(self.engine.complete(task_id))
            elif record is not None:
                await self._run(self.engine.cancel(task_id))
                return
        except RoutingError as exc:
            log.info("task %s already gone from routing: %s", task_id, exc)
        if record is None and not task_id.startswith(PHONE_TASK_PREFIX):
            async with self._sessions() as session, session.begin():
                await routing_log.set_task_state(session, task_id, "canceled", _dt(self._clock()))

    async def take(self, task_id: str, user_id: int) -> Outcome:
        """Someone takes a waiting task from the unassigned list: atomic like an accept (RoutingError if late)."""
        return await self._run(self.engine.take(task_id, str(user_id)))

    async def set_priority(self, task_id: str, priority: int) -> Outcome:
        """A lead's priority changed: its waiting task moves to its new place in line."""
        return await self._run(self.engine.set_priority(task_id, priority))

    async def set_presence(self, user_id: int, presence: Presence, reason: str | None) -> None:
        """A presence change that did not come from the operator's screen (the PBX, an admin)."""
        await self._run(self.engine.set_presence(str(user_id), presence, reason))

    async def notify(self, user_ids: set[int], kind: str, data: Mapping[str, Any]) -> None:
        """A frame to these users' screens, wherever they are connected."""
        await self._fanout.to_users(user_ids, kind, data)

    async def sync_user(self, user: User) -> None:
        """An admin changed a user: routing follows (inactive users go offline)."""
        await self._run(self.engine.upsert_agent(agent_of(user, self._settings)))
        if not user.active:
            await self._run(self.engine.set_presence(str(user.id), Presence.OFFLINE, "deactivated"))

    async def lead_finished(self, lead_id: int) -> None:
        """The lead was closed, deleted or assigned by hand: its task is over."""
        async with self._sessions() as session:
            row = await routing_log.open_task_for_lead(session, lead_id)
        if row is None:
            return
        try:
            if row.state in ("assigned", "wrapping"):
                await self._run(self.engine.complete(row.id))
            else:
                await self._run(self.engine.cancel(row.id))
        except RoutingError as exc:
            log.info("task %s already gone from routing: %s", row.id, exc)
            async with self._sessions() as session, session.begin():
                await routing_log.set_task_state(session, row.id, "canceled", _dt(self._clock()))

    # -- websocket frames -----------------------------------------------------------------------
    def handlers(self) -> dict[str, Any]:
        return {"presence.set": self.presence_set, "offer.accept": self.offer_accept,
                "offer.decline": self.offer_decline}

    async def presence_set(self, who: Principal, data: Mapping[str, Any]) -> dict[str, Any]:
        raw, reason = str(data.get("presence", "")), data.get("reason")
        presence, default_reason = PRESENCE_ALIASES.get(raw, (None, None))
        if presence is None:
            try:
                presence = Presence(raw)
            except ValueError:
                raise FrameError("invalid", f"unknown presence {raw[:40]!r}") from None
        reason = str(reason)[:60] if isinstance(reason, str) and reason else default_reason
        await self._from_screen(self.engine.set_presence(str(who.user_id), presence, reason))
        for listener in self.presence_listeners:
            self._spawn(lambda listener=listener: listener(who.user_id, presence, reason))
        return {"presence": presence.value, "reason": reason}

    async def offer_accept(self, who: Principal, data: Mapping[str, Any]) -> dict[str, Any]:
        outcome = await self._from_screen(self.engine.accept(_offer_id(data), str(who.user_id)))
        assignment = outcome.assignment
        return {"offer_id": _offer_id(data), "lead_id": lead_of_task(assignment.task_id) if assignment else None}

    async def offer_decline(self, who: Principal, data: Mapping[str, Any]) -> dict[str, Any]:
        await self._from_screen(self.engine.decline(_offer_id(data), str(who.user_id)))
        return {"offer_id": _offer_id(data)}

    async def _from_screen(self, call: Any) -> Outcome:
        """An engine call a screen asked for: a refusal becomes an `error` frame, not a crash."""
        try:
            return await self._run(call)
        except RoutingError as exc:
            raise FrameError("routing", str(exc)) from exc

    async def on_connect(self, who: Principal) -> None:
        """A (re)connecting screen gets its presence, its pending offers and its work at once."""
        agent_id = str(who.user_id)
        async with self._sessions() as session:
            user = await session.get(User, who.user_id)
        if user is not None:
            # Users added or changed while we run (CLI, another node) are known from their first connect.
            await self._run(self.engine.upsert_agent(agent_of(user, self._settings)))
        [state] = await self.engine.backend.get_agents([agent_id])
        if state is not None:
            await self._hub.send(who.user_id, "presence.changed", frames.presence_payload(state))
        async with self._sessions() as session:
            for offer in await self.engine.offers_for(agent_id):
                card = await frames.card_of_task(session, offer.task_id)
                await self._hub.send(who.user_id, "offer.created", frames.offer_payload(offer, card))
            for record in await self.engine.assignments_for(agent_id):
                lead_id = lead_of_task(record.id)
                await self._hub.send(who.user_id, "lead.assigned", {
                    "task_id": record.id, "lead_id": lead_id, "channel": record.task.channel,
                    "assigned_at": frames.at(record.assigned_at),
                    "card": await frames.card_of_task(session, record.id)})
        if who.role.value in WATCHER_ROLES:
            await self._hub.send(who.user_id, "queue.stats", await self.wallboard())

    async def on_gone(self, who: Principal) -> None:
        """The screen stayed away past the grace period: stop offering, give back pending offers."""
        await self._run(self.engine.set_presence(str(who.user_id), Presence.BREAK, "disconnected"))

    # -- carrying out decisions -----------------------------------------------------------------
    async def _run(self, call: Any) -> Outcome:
        async with self._lock:
            outcome: Outcome = await call
        await self._apply(outcome)
        await self._reschedule()
        return outcome

    async def _apply(self, outcome: Outcome) -> None:
        self._stats_changed()       # even a task nobody can take yet moves the wallboard
        if not outcome.events:
            return
        explained = {d.task_id: frames.decision_json(d) for d in outcome.decisions}
        async with self._sessions() as session, session.begin():
            notes = [await self._persist(session, event, explained) for event in outcome.events]
        for note in notes:
            if note is not None:
                user_id, kind, data = note
                await self._fanout.to_users({user_id}, kind, data)

    async def _persist(self, session: AsyncSession, event: Event,
                       explained: Mapping[str, Any]) -> tuple[int, str, dict[str, Any]] | None:
        """Store what `event` changed; return the frame it warrants (user, type, data)."""
        now = _dt(self._clock())
        if _is_phone_task(event):
            # A call on the operator's own phone lives as long as the call: taken at once, never shown,
            # not stored (after a restart the voice adapter's reconciliation adds the calls still up).
            if isinstance(event, OfferCreated):
                offer = event.offer
                self._spawn(lambda: self._run(self.engine.accept(offer.id, offer.agent_id)))
            elif isinstance(event, (TaskAssigned, TaskChanged)):
                return await self._activity(event)       # on a call / wrapping up / free: the screen shows it
            return None
        if isinstance(event, OfferCreated):
            offer = event.offer
            await routing_log.record_offer(session, offer.id, offer.task_id, int(offer.agent_id),
                                           _dt(offer.created), _dt(offer.expires), explained.get(offer.task_id, {}))
            await routing_log.set_task_state(session, offer.task_id, "reserved", now)
            audit.record(session, "lead.offered", now, user_id=int(offer.agent_id),
                         lead_id=lead_of_task(offer.task_id), detail={"offer_id": offer.id})
            card = await frames.card_of_task(session, offer.task_id)
            return int(offer.agent_id), "offer.created", frames.offer_payload(offer, card)
        if isinstance(event, OfferCancelled):
            await routing_log.close_offer(session, event.offer.id, event.offer.status.value, now)
            return int(event.offer.agent_id), "offer.cancelled", frames.cancelled_payload(event.offer)
        if isinstance(event, TaskAssigned):
            a = event.assignment
            await routing_log.close_offer(session, a.offer_id, "accepted", now)
            await routing_log.set_task_state(session, a.task_id, "assigned", now, int(a.agent_id))
            lead_id = lead_of_task(a.task_id)
            if lead_id is not None:
                await leads.assign(session, lead_id, int(a.agent_id), now)
                audit.record(session, "lead.accepted", now, user_id=int(a.agent_id), lead_id=lead_id)
            await session.flush()
            card = await frames.card_of_task(session, a.task_id)
            return int(a.agent_id), "lead.assigned", frames.assigned_payload(a, card)
        if isinstance(event, TaskChanged):
            await routing_log.set_task_state(session, event.task_id, event.state.value, now,
                                             int(event.agent_id) if event.agent_id else None)
            return None
        if isinstance(event, PresenceChanged):
            self._since[event.agent_id] = self._clock()
            [state] = await self.engine.backend.get_agents([event.agent_id])
            data = frames.presence_payload(state) if state else {
                "user_id": int(event.agent_id), "presence": event.presence.value, "reason": event.reason}
            return int(event.agent_id), "presence.changed", data
        return None

    async def _activity(self, event: TaskAssigned | TaskChanged) -> tuple[int, str, dict[str, Any]] | None:
        agent_id = event.assignment.agent_id if isinstance(event, TaskAssigned) else event.agent_id
        if not agent_id:
            return None
        [state] = await self.engine.backend.get_agents([agent_id])
        return (int(agent_id), "presence.changed", frames.presence_payload(state)) if state is not None else None

    async def _reschedule(self) -> None:
        deadline = await self.engine.next_deadline()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if deadline is None and self._shared_deadline_check is None:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, deadline - self._clock()) if deadline is not None else float("inf")
        if self._shared_deadline_check is not None:
            # Another process may create an earlier deadline, or die before its own fires.
            delay = min(delay, self._shared_deadline_check)
        self._timer = loop.call_later(delay, self._spawn, self._expire)

    async def _expire(self) -> None:
        await self._run(self.engine.expire_due())

    def _stats_changed(self) -> None:
        if self._stats_pending:
            return
        self._stats_pending = True
        self._stats_timer = asyncio.get_running_loop().call_later(STATS_DEBOUNCE, self._spawn, self._push_stats)

    async def _push_stats(self) -> None:
        self._stats_pending = False
        await self._fanout.to_roles(WATCHER_ROLES, "queue.stats", await self.wallboard())

    async def wallboard(self) -> dict[str, Any]:
        """Queue and channel numbers plus one row per agent, from one snapshot."""
        snapshot = await self.engine.snapshot()
        midnight = datetime.fromtimestamp(self._clock(), UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        async with self._sessions() as session:
            today = await routing_log.offers_today(session, midnight)
            missing = [int(a.id) for a in snapshot.agents if int(a.id) not in self._names]
            if missing:
                for user in await session.scalars(select(User).where(User.id.in_(missing))):
                    self._names[user.id] = user.display_name
        payload = frames.stats_payload(compute_stats(snapshot, self.engine.queues),
                                       frames.agent_rows(snapshot, self._names, self._since, today))
        for extra in self.wallboard_extras:
            await extra(payload)
        return payload

    def _spawn(self, step: Callable[[], Any]) -> None:
        task = asyncio.create_task(_logged(step))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _is_phone_task(event: Event) -> bool:
    if isinstance(event, (OfferCreated, OfferCancelled)):
        task_id = event.offer.task_id
    elif isinstance(event, TaskAssigned):
        task_id = event.assignment.task_id
    elif isinstance(event, TaskChanged):
        task_id = event.task_id
    else:
        return False
    return task_id.startswith(PHONE_TASK_PREFIX)


def _offer_id(data: Mapping[str, Any]) -> str:
    offer_id = data.get("offer_id")
    if not isinstance(offer_id, str) or not offer_id:
        raise FrameError("invalid", "offer_id is required")
    return offer_id


async def _logged(step: Callable[[], Any]) -> None:
    try:
        await step()
    except Exception:
        log.exception("routing background step failed")
