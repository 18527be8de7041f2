"""Source effectiveness: where leads came from, and how they ended."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_store.models import Lead

SOURCE_KEYS = ("channel", "form", "utm_source", "utm_medium", "utm_campaign", "did", "deep_link")


@dataclass(frozen=True, slots=True)
class SourceRow:
    source: tuple[tuple[str, str], ...]
    leads: int
    won: int
    lost: int
    handed_over: int
    open: int

    @property
    def conversion(self) -> float | None:
        """Won / all the leads that came: open leads count too (won / closed said 100% with 16 of 17 open)."""
        return round(self.won / self.leads, 4) if self.leads else None


async def by_source(session: AsyncSession, since: datetime, until: datetime,
                    keys: tuple[str, ...] = SOURCE_KEYS) -> list[SourceRow]:
    """Leads created in [since, until) grouped by the chosen source keys, most leads first."""
    rows = await session.execute(select(Lead.source, Lead.status, Lead.outcome).where(
        Lead.created_at >= since, Lead.created_at < until, Lead.deleted_at.is_(None)))
    totals: dict[tuple[tuple[str, str], ...], Counter[str]] = {}
    for source, status, outcome in rows:
        key = tuple((k, str(source[k])) for k in keys if source and source.get(k))
        counts = totals.setdefault(key, Counter())
        counts["leads"] += 1
        counts[outcome if outcome in ("won", "lost", "handed_over") else
               "open" if status in ("new", "assigned", "in_progress") else "other"] += 1
    return sorted((SourceRow(key, c["leads"], c["won"], c["lost"], c["handed_over"], c["open"])
                   for key, c in totals.items()), key=lambda r: (-r.leads, r.source))
