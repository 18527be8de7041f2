"""Response clocks: how long each client has waited for a person's answer, in the queue's business time.

The clock starts at the client's first unanswered message and stops when a person answers on that
channel (crm_store.response_waits). A queue may send a silent assignee's lead back to routing, make
a follow-up task for a forgotten lead, and answer once per conversation after hours.
"""
from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from channels.types import InboundContact, OutboundMessage, Responder
from crm_store import outbound, reassign, response_waits, tasks
from crm_store.response_waits import Waiting
from crm_store.session import Sessions
from gateway.mapping import task_of_row
from gateway.notifier import Notifier
from gateway.routing.ports import Routing
from gateway.work_settings import WEEKDAYS, QueueClock, parse_span
from routing.calendar import BusinessCalendar

log = logging.getLogger(__name__)

MACHINE_SENDER = re.compile(r"^(no-?reply|do-?not-?reply|mailer-daemon|postmaster|bounces?)([+.@-]|$)", re.I)


def calendar_of(clock: QueueClock) -> BusinessCalendar:
    if not clock.hours:
        return BusinessCalendar.always()
    week = tuple(tuple(parse_span(span, day) for span in clock.hours.get(day, ())) for day in WEEKDAYS)  # type: ignore[call-overload]
    return BusinessCalendar(week, clock.time_zone, frozenset(clock.holidays))


@dataclass(frozen=True, slots=True)
class ClockView:
    kind: str            # first / next
    channel: str
    started_at: datetime
    due_at: datetime | None
    state: str           # ok / at_risk / breached
    paused: bool         # outside business hours now: the clock does not run

    def json(self) -> dict[str, Any]:
        return {"kind": self.kind, "channel": self.channel, "started_at": self.started_at.isoformat(),
                "due_at": self.due_at.isoformat() if self.due_at else None, "state": self.state,
                "paused": self.paused}


class ResponseClocks:
    def __init__(self, sessions: Sessions, clocks: Mapping[str, QueueClock], clock: Callable[[], datetime],
                 routing: Routing | None, notifier: Notifier | None, responders: Mapping[str, Responder],
                 on_task: Callable[[int, datetime], None] = lambda task_id, due: None) -> None:
        self._sessions = sessions
        self._clocks = clocks
        self._calendars = {name: calendar_of(c) for name, c in clocks.items()}
        self._clock = clock
        self._routing = routing
        self._notifier = notifier
        self._responders = responders
        self._on_task = on_task

    def _queue(self, name: str) -> tuple[QueueClock, BusinessCalendar] | None:
        key = name if name in self._clocks else "default"
        return (self._clocks[key], self._calendars[key]) if key in self._clocks else None

    def view(self, wait: Waiting, now: datetime) -> ClockView | None:
        found = self._queue(wait.queue)
        if found is None:
            return None
        settings, calendar = found
        targets = settings.targets(wait.channel)
        minutes = targets.first_response_minutes if wait.first else targets.next_response_minutes
        if minutes is None:
            return None
        target = minutes * 60
        spent = calendar.elapsed(wait.since, now)
        state = "breached" if spent >= target else "at_risk" if spent >= settings.at_risk_share * target else "ok"
        return ClockView("first" if wait.first else "next", wait.channel, wait.since, calendar.add(wait.since, target),
                         state, not calendar.is_open(now))

    async def views(self, lead_ids: list[int]) -> dict[int, dict[str, Any]]:
        """The `response` field of leads in a list or on a card (leads nobody waits on have none)."""
        if not self._clocks or not lead_ids:
            return {}
        async with self._sessions() as session:
            waits = await response_waits.waiting(session, lead_ids)
        now = self._clock()
        return {lead_id: v.json() for lead_id, w in waits.items() if (v := self.view(w, now)) is not None}

    async def wallboard(self, payload: dict[str, Any]) -> None:
        """Per queue: how many clients wait with their answer at risk or overdue."""
        if not self._clocks:
            return
        async with self._sessions() as session:
            waits = await response_waits.waiting(session)
        now = self._clock()
        counts: dict[str, dict[str, int]] = {}
        for wait in waits.values():
            view = self.view(wait, now)
            if view is not None and view.state != "ok":
                counts.setdefault(wait.queue, {"at_risk": 0, "breached": 0})[view.state] += 1
        for name, queue in payload.get("queues", {}).items():
            queue["responses"] = counts.get(name, {"at_risk": 0, "breached": 0})

    # -- rules -----------------------------------------------------------------------------------------
    async def sweep(self) -> dict[str, int]:
        """Reassign silent assignees' leads and give forgotten leads a follow-up task; what was done."""
        return {"reassigned": await self._reassign_silent(), "forgotten": await self._follow_up_forgotten()}

    async def _reassign_silent(self) -> int:
        if not any(c.reassign_after_minutes for c in self._clocks.values()):
            return 0
        now, done = self._clock(), 0
        async with self._sessions() as session:
            waits = await response_waits.waiting(session)
        for wait in waits.values():
            found = self._queue(wait.queue)
            if wait.assignee_id is None or found is None or not found[0].reassign_after_minutes:
                continue
            minutes = found[0].reassign_after_minutes
            # The assignee is silent only since they got the lead: a client who waited in the queue before
            # the hand-over does not make the new assignee look slow.
            if found[1].elapsed(wait.silent_since, now) < minutes * 60:
                continue
            reason = f"no answer within {minutes:g} business minutes"
            async with self._sessions() as session, session.begin():
                moved = await reassign.back_to_routing(session, wait, now, reason)
            if moved is None:
                continue
            done += 1
            if self._notifier is not None:
                await self._notifier.lead_updated(moved.lead_id, {"assignee_id": None, "reassigned": reason,
                                                                  "reassigned_after_minutes": minutes},
                                                  assignee_id=moved.previous_assignee, owner_id=None, changed_by=0)
            if self._routing is not None:
                for old in moved.ended:
                    await self._routing.end_task(old)
                await self._routing.add_task(task_of_row(moved.task))
        return done

    async def _follow_up_forgotten(self) -> int:
        hours = [c.forgotten_after_hours for c in self._clocks.values() if c.forgotten_after_hours]
        if not hours:
            return 0
        now, made = self._clock(), []
        async with self._sessions() as session, session.begin():
            # Business time never runs faster than the wall clock: the wall-clock idle leads are all candidates.
            candidates = await response_waits.forgotten(session, now - timedelta(hours=min(hours)))
            queues = await response_waits.queues_of(session, [lead.id for lead in candidates])
            for lead in candidates:
                found = self._queue(queues.get(lead.id, "default"))
                limit = found[0].forgotten_after_hours if found else None
                if not found or not limit or found[1].elapsed(lead.last_activity_at, now) < limit * 3600:
                    continue
                if not await response_waits.mark_once(session, lead.id, "forgotten", lead.last_activity_at.isoformat(),
                                                      now):
                    continue
                task = await session.run_sync(lambda s, lead=lead, limit=limit: tasks.add_system_task(
                    s, lead_id=lead.id, kind="call", origin="forgotten", assignee_id=lead.assignee_id, due_at=now,
                    note=f"no task and no activity for {limit:g} business hours", at=now))
                await session.flush()
                if task is not None:
                    made.append((task.id, now))
        for task_id, due in made:
            self._on_task(task_id, due)
        return len(made)

    async def after_hours(self, contact: InboundContact, lead_id: int) -> bool:
        """A message outside the queue's hours gets the opening time, once per conversation; machines get nothing."""
        if not self._clocks or _machine(contact):
            return False
        async with self._sessions() as session:
            wait = (await response_waits.waiting(session, [lead_id])).get(lead_id)
        found = self._queue(wait.queue if wait else "default")
        if found is None or not found[0].after_hours_answer or contact.channel not in found[0].after_hours_channels:
            return False
        settings, calendar = found
        now = self._clock()
        responder = self._responders.get(contact.channel)
        if calendar.is_open(now) or responder is None or not contact.source_id:
            return False
        opens = calendar.next_open(now)
        local = opens.astimezone(calendar_zone(settings)).strftime("%Y-%m-%d %H:%M") if opens else "?"
        text = settings.after_hours_answer.replace("{opens_at}", local)
        conversation = contact.thread_ref or str(lead_id)
        async with self._sessions() as session, session.begin():
            if not await response_waits.mark_once(session, lead_id, "auto_answer", conversation[:100], now):
                return False
            item = await response_waits.record_auto_answer(session, lead_id, contact.channel, contact.source_id,
                                                           contact.thread_ref, f"auto:{uuid.uuid4().hex}", text, now)
            item_id = item.id
        delivery = await responder.send(OutboundMessage(
            channel=contact.channel, lead_id=lead_id, message_id=uuid.uuid4().hex, to=contact.source_id, text=text,
            subject=contact.subject, thread_ref=contact.thread_ref,
            in_reply_to=contact.attributes.get("message_id") if contact.attributes else None))
        async with self._sessions() as session, session.begin():
            await outbound.record_delivery(session, item_id, delivery.ok, delivery.provider_id, delivery.error)
        return delivery.ok


def calendar_zone(settings: QueueClock) -> ZoneInfo:
    return ZoneInfo(settings.time_zone)


def _machine(contact: InboundContact) -> bool:
    """Mail a program sent: never answered automatically (loops between two auto-responders)."""
    attributes = contact.attributes or {}
    if str(attributes.get("auto_submitted", "no")).lower() not in ("", "no"):
        return True
    if str(attributes.get("precedence", "")).lower() in ("bulk", "list", "junk", "auto_reply"):
        return True
    sender = contact.source_id or ""
    return contact.channel == "email" and bool(MACHINE_SENDER.match(sender.split("@")[0] + "@"))
