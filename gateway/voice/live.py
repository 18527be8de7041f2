"""What this process knows about each call in progress: enough to pop, retract and resync screens."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from channels.asterisk.types import CallStarted
from crm_store.task_refs import PhoneTask


@dataclass(slots=True)
class LiveCall:
    call_id: str
    lead_id: int | None          # None until the call's record is written (the pop does not wait for it)
    interaction_id: int | None
    started: CallStarted
    ringing: dict[str, set[int]] = field(default_factory=dict)   # extension -> users popped there
    rang_users: set[int] = field(default_factory=set)
    answered_by: int | None = None       # who holds the call now (None again once a transfer took it from them)
    answered_extension: str | None = None
    answered_at: datetime | None = None
    takers: list[int] = field(default_factory=list)      # everyone who answered it, in order
    transfer_from: dict[str, str | None] = field(default_factory=dict)  # extension -> who transferred to it
    phone_tasks: dict[int, PhoneTask] = field(default_factory=dict)    # user -> their phone's routing task
    card: dict[str, Any] | None = None        # read once per call, sent with every pop
    card_fresh: bool = False                  # `card` was read for this call (not a cached one from before)
    awaiting_card: set[int] = field(default_factory=set)   # users popped before the fresh card was ready
    pops: list[tuple[int, str, datetime]] = field(default_factory=list)   # who saw the card
    transfers: list[dict[str, Any]] = field(default_factory=list)
    recorded: asyncio.Task[None] | None = None     # writes the call's start (lead, interaction) and reads its card
    writes: list[asyncio.Task[None]] = field(default_factory=list)   # after the record, beside the events (grants)

    def everyone(self) -> set[int]:
        return self.rang_users | ({self.answered_by} if self.answered_by is not None else set())

    def holding(self) -> set[int]:
        """Users the call is ringing or talking at: where a late card goes."""
        users = {u for at in self.ringing.values() for u in at}
        return users | ({self.answered_by} if self.answered_by is not None else set())
