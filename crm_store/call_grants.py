"""A phone that rang for a call lets its user open the call's lead: while it rings and afterwards.

The grant is the audit entry the ring leaves, so who saw which card and who may open it are one record.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_store import audit
from crm_store.models import AuditEntry

POPPED = "lead.popped"


def record_pop(session: Session, lead_id: int, user_id: int, call_id: str, extension: str, at: datetime) -> None:
    audit.record(session, POPPED, at, user_id=user_id, lead_id=lead_id,  # type: ignore[arg-type]
                 detail={"call_id": call_id, "extension": extension})


def record_pops(session: Session, pops: Sequence[tuple[int, int, str, str, datetime]]) -> list[None]:
    """`record_pop` for each (lead, user, call, extension, when): the pops of calls ringing together, in one INSERT."""
    audit.record_all(session, [audit.entry(POPPED, at, user_id=user_id, lead_id=lead_id,
                                           detail={"call_id": call_id, "extension": extension})
                               for lead_id, user_id, call_id, extension, at in pops])
    return [None] * len(pops)


def rang_for(session: Session, user_id: int, lead_id: int) -> bool:
    """A call for this lead rang on this user's phone."""
    return session.scalar(select(AuditEntry.id).where(
        AuditEntry.lead_id == lead_id, AuditEntry.user_id == user_id, AuditEntry.action == POPPED).limit(1)) is not None
