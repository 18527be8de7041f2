"""What this process knows about each call in progress: enough to pop, retract and resync screens."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from channels.asterisk.types import CallStarted
from crm_store.task_refs import PhoneTask


@dataclass(slots=True)
class LiveCall:
    call_id: str
    lead_id: int
    interaction_id: int
    started: CallStarted
    ringing: dict[str, set[int]] = field(default_factory=dict)   # extension -> users popped there
    rang_users: set[int] = field(default_factory=set)
    answered_by: int | None = None
    answered_extension: str | None = None
    answered_at: datetime | None = None
    transfer_from: dict[str, str | None] = field(default_factory=dict)  # extension -> who transferred to it
    phone_task: PhoneTask | None = None
    card: dict[str, Any] | None = None        # read once per call, sent with every pop
    pops: list[tuple[int, str, datetime]] = field(default_factory=list)   # who saw the card, audited at the end
    transfers: list[dict[str, Any]] = field(default_factory=list)

    def everyone(self) -> set[int]:
        return self.rang_users | ({self.answered_by} if self.answered_by is not None else set())
