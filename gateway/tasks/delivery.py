"""Where a due task's reminder goes: the assignee's open screens (`task.due`), and if they are not signed in,
one message through the channel they chose (e-mail through the outbound relay, or their Telegram chat)."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from channels.types import OutboundMessage, Responder
from crm_store import tasks
from crm_store.session import Sessions
from gateway import frames
from gateway.hub import Hub
from gateway.notifier import Notifier
from gateway.tasks import when
from routing.types import AgentState, Presence

log = logging.getLogger(__name__)

AgentLookup = Callable[[int], Awaitable[AgentState | None]]


def lead_link(base_url: str, reminder: tasks.Reminder) -> str:
    base = base_url.rstrip("/")
    return f"{base}/?lead={reminder.lead_id}" if reminder.lead_id is not None else f"{base}/tasks"


def reminder_text(reminder: tasks.Reminder, link: str) -> tuple[str, str]:
    """Subject and body in the assignee's language, the due time in their zone."""
    user = reminder.assignee
    tz = when.zone(user.time_zone if user else None)
    due = reminder.due_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    client = reminder.client_name or "—"
    if user is not None and user.locale.startswith("ru"):
        subject = f"Напоминание: {reminder.kind} — {client}, {due}"
        body = f"Задача «{reminder.kind}» по клиенту {client} на {due} ({tz}).\n{reminder.note}\n{link}"
    else:
        subject = f"Reminder: {reminder.kind} — {client}, {due}"
        body = f"Task '{reminder.kind}' for {client} is due {due} ({tz}).\n{reminder.note}\n{link}"
    return subject, body.replace("\n\n", "\n")


@dataclass
class ReminderDelivery:
    sessions: Sessions
    notifier: Notifier
    hub: Hub
    agent: AgentLookup
    responders: Mapping[str, Responder]
    base_url: str
    clock: Callable[[], datetime]

    async def signed_in(self, user_id: int) -> bool:
        """A screen open here, or one routing knows of in any process (a closed screen is a `disconnected` break)."""
        if self.hub.connected(user_id):
            return True
        state = await self.agent(user_id)
        return state is not None and state.presence is not Presence.OFFLINE and state.reason != "disconnected"

    async def present(self, user_ids: set[int]) -> set[int]:
        return {user_id for user_id in user_ids if await self.signed_in(user_id)}

    async def __call__(self, reminders: list[tasks.Reminder], present: set[int]) -> None:
        """A burst of reminders: the frames in one fan-out; each one whose assignee is away also goes through the
        channel they chose, audited here (the timer audited the others with its claim)."""
        owned = [(r, lead_link(self.base_url, r)) for r in reminders if r.assignee_id is not None]
        if not owned:
            return
        await self.notifier.tasks_due([(r.assignee_id, frames.task_due(  # type: ignore[misc]
            r.task_id, r.kind, r.due_at, r.note, r.lead_id, r.contact_id, r.client_name, link)) for r, link in owned])
        by_outcome: dict[tuple[str, str | None], list[int]] = {}
        for reminder, link in owned:
            if reminder.assignee_id in present:
                continue
            try:
                via, error = await self._away(reminder, link)
            except Exception as exc:
                log.exception("reminder of task %s could not be sent", reminder.task_id)
                via, error = "failed", repr(exc)[:200]
            by_outcome.setdefault((via, error), []).append(reminder.task_id)
        if by_outcome:
            async with self.sessions() as session, session.begin():
                at = self.clock()
                for (via, error), task_ids in by_outcome.items():
                    await tasks.audit_reminded(session, task_ids, via, error, at)

    async def _away(self, reminder: tasks.Reminder, link: str) -> tuple[str, str | None]:
        user = reminder.assignee
        choice = user.remind_via if user is not None else None
        to = {"email": user.email, "telegram": user.telegram_chat_id}.get(choice or "") if user else None
        responder = self.responders.get(choice or "")
        if choice is None or not to or responder is None:
            return "none", None if choice is None else f"no {choice} address or channel"
        subject, text = reminder_text(reminder, link)
        delivery = await responder.send(OutboundMessage(
            channel=choice, lead_id=reminder.lead_id or 0, message_id=f"reminder-{reminder.task_id}-{uuid.uuid4().hex[:8]}",
            to=to, text=text, subject=subject, thread_ref=to if choice == "telegram" else None))
        if not delivery.ok:
            log.warning("reminder of task %s by %s failed: %s", reminder.task_id, choice, delivery.error)
        return choice, None if delivery.ok else delivery.error
