"""What this process knows about each call in progress: enough to pop, retract and resync screens."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from channels.asterisk.types import CallStarted


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
    phone_task: str | None = None
    card: dict[str, Any] | None = None        # read once per call, sent with every pop
    pops: list[tuple[int, str, datetime]] = field(default_factory=list)   # who saw the card, audited at the end
    transfers: list[dict[str, Any]] = field(default_factory=list)

    def ringing_payload(self, extension: str, card: dict[str, Any] | None) -> dict[str, Any]:
        s = self.started
        return {"call_id": self.call_id, "lead_id": self.lead_id, "direction": s.direction.value,
                "caller": s.caller, "caller_name": s.caller_name, "queue": s.queue, "did": s.did,
                "extension": extension, "transfer_from": self.transfer_from.get(extension),
                "started_at": s.at.isoformat(), "card": card}

    def everyone(self) -> set[int]:
        return self.rang_users | ({self.answered_by} if self.answered_by is not None else set())
