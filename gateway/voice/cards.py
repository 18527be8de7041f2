"""Cards for screen pops, as the screen shows them: routing's view (a ringing phone may see any lead)."""
from __future__ import annotations

from typing import Any

from crm_store.lead_cards import LeadCards
from crm_store.session import Sessions
from gateway.api.serialize import card_json
from gateway.routing.cards import ROUTING

TIMELINE = 20


class CardReader:
    def __init__(self, database_url: str, sessions: Sessions) -> None:
        self._cards = LeadCards(database_url, sessions)

    async def read(self, lead_id: int) -> dict[str, Any] | None:
        """The lead's card as the screen shows it; None if gone."""
        return await self._cards.read(ROUTING, lead_id, TIMELINE, card_json)

    def close(self) -> None:
        self._cards.close()
