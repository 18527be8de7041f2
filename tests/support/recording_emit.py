"""The `emit` channel tests hand to an adapter: it records contacts, and its store can be "down"."""
from __future__ import annotations

from channels.types import Accepted, InboundContact, IntakeUnavailable


class RecordingEmit:
    def __init__(self) -> None:
        self.contacts: list[InboundContact] = []
        self.down = False
        self.refused = 0        # contacts offered while "down": proof the adapter tried

    async def __call__(self, contact: InboundContact) -> Accepted:
        if self.down:
            self.refused += 1
            raise IntakeUnavailable("database is down")
        self.contacts.append(contact)
        return Accepted(len(self.contacts), 1, len(self.contacts))

    @property
    def event_ids(self) -> list[str]:
        return [c.event_id for c in self.contacts]
