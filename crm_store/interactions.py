"""Single interactions (a message, a call) read by id, for what hangs off them (attachments)."""
from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from crm_store.models import Interaction


async def find_interaction(session: AsyncSession, interaction_id: int) -> Interaction | None:
    return await session.get(Interaction, interaction_id)
