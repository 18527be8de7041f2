"""Cards for screen pops, as the screen shows them: routing's view (a ringing phone may see any lead)."""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

from crm_store.lead_cards import RoutedCards
from crm_store.session import Sessions
from gateway.api.serialize import card_json

TIMELINE = 20


class CardReader:
    def __init__(self, database_url: str, sessions: Sessions) -> None:
        # Read as routing reads (the ring is the permission), the cards of calls starting together in one read.
        self._cards = RoutedCards(database_url, sessions, TIMELINE, card_json)

    async def read(self, lead_id: int) -> dict[str, Any] | None:
        """The lead's card as the screen shows it; None if gone."""
        card: dict[str, Any] | None = await self._cards.read(lead_id)
        return card

    async def close(self) -> None:
        await self._cards.close()


class RecentCards:
    """The cards of recent callers by number, so a known caller's pop goes out with no read at all.

    A card from here may be a little old; the call's fresh card follows as `call.card` once read."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._cards: OrderedDict[str, tuple[int, dict[str, Any]]] = OrderedDict()

    def get(self, caller: str | None) -> tuple[int, dict[str, Any]] | None:
        found = self._cards.get(caller) if caller else None
        if found is not None:
            self._cards.move_to_end(caller)       # type: ignore[arg-type]
        return found

    def put(self, caller: str | None, lead_id: int, card: dict[str, Any] | None) -> None:
        if not caller or card is None:
            return
        self._cards[caller] = (lead_id, card)
        self._cards.move_to_end(caller)
        while len(self._cards) > self._size:
            self._cards.popitem(last=False)
