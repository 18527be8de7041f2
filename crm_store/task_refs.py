"""What a routing task is about, typed: the string id routing and the database carry is made and read here only."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LeadTask:
    """Work on a lead, stored as a routing_tasks row: the inbound message that opened it, or a callback owed."""

    lead_id: int
    interaction_id: int

    def encode(self) -> str:
        return f"lead:{self.lead_id}:{self.interaction_id}"


@dataclass(frozen=True, slots=True)
class PhoneTask:
    """A call in progress on one operator's phone: lives as long as the call, never stored."""

    call_id: str
    user_id: int

    def encode(self) -> str:
        return f"call:{self.call_id}:{self.user_id}"


TaskRef = LeadTask | PhoneTask


def parse_task_id(task_id: str) -> TaskRef | None:
    """The reference behind a task id; None for an id this code never made."""
    kind, _, rest = task_id.partition(":")
    if kind == "lead":
        lead, _, interaction = rest.partition(":")
        if lead.isdigit() and interaction.isdigit():
            return LeadTask(int(lead), int(interaction))
    elif kind == "call":
        call_id, _, user = rest.rpartition(":")     # Asterisk call ids may hold dots, never a colon at the end
        if call_id and user.isdigit():
            return PhoneTask(call_id, int(user))
    return None


def lead_of_task(task_id: str) -> int | None:
    ref = parse_task_id(task_id)
    return ref.lead_id if isinstance(ref, LeadTask) else None


def is_phone_task(task_id: str) -> bool:
    # The prefix first: the sweeper asks this of every live task each pass, and a lead task's id
    # (nearly all of them) is answered without building the reference it does not need.
    return task_id.startswith("call:") and isinstance(parse_task_id(task_id), PhoneTask)
