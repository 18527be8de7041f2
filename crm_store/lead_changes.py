"""How a change to a lead's own columns is applied, whichever way it is written: the status moves allowed and
what each requires, the plain columns, and a value's form in the audit's diff.

Both ways a PATCH is written use these (`crm_store.leads.update_lead` on ORM objects, `crm_store.lead_patch` on
plain rows); `put(name, value)` is the writer's, recording the change in its diff.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from crm_store import fields
from crm_store.errors import Invalid
from crm_store.types import OPEN_STATUSES, LeadChanges, LeadOutcome, LeadStatus

TERMINAL = {LeadStatus.WON: LeadOutcome.WON, LeadStatus.LOST: LeadOutcome.LOST}

_ALLOWED = {
    LeadStatus.NEW: {LeadStatus.ASSIGNED, LeadStatus.IN_PROGRESS, LeadStatus.WON, LeadStatus.LOST, LeadStatus.CLOSED},
    LeadStatus.ASSIGNED: {LeadStatus.NEW, LeadStatus.IN_PROGRESS, LeadStatus.WON, LeadStatus.LOST, LeadStatus.CLOSED},
    LeadStatus.IN_PROGRESS: {LeadStatus.ASSIGNED, LeadStatus.WON, LeadStatus.LOST, LeadStatus.CLOSED},
    # Reopening a finished lead is allowed and audited; the outcome is cleared.
    LeadStatus.WON: {LeadStatus.IN_PROGRESS},
    LeadStatus.LOST: {LeadStatus.IN_PROGRESS},
    LeadStatus.CLOSED: {LeadStatus.IN_PROGRESS},
}


def put_own_columns(changes: LeadChanges, put: Callable[[str, object], None]) -> None:
    """The lead's plain columns a change names (notes, subject, priority, amount, currency, close date), each
    `put` with its stored form."""
    if changes.notes is not None:
        put("notes", changes.notes[:20000])
    if changes.subject is not None:
        put("subject", changes.subject[:500])
    if changes.priority is not None:
        put("priority", changes.priority)
    for name in ("amount", "currency", "close_date"):
        value = getattr(changes, name)
        if value is not None or name in changes.cleared:
            put(name, value)


def plain(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


def transition(lead: Any, changes: LeadChanges, put: Callable[[str, object], None], now: datetime,
               required: dict[str, tuple[str, ...]]) -> None:
    """The status `changes` asks for, checked (allowed from here, its required fields filled, a closing's outcome
    and reason) and `put` with what goes with it; `lead` an ORM Lead or a row read as attributes."""
    current, target = LeadStatus(lead.status), LeadStatus(changes.status)  # type: ignore[arg-type]
    if target not in _ALLOWED[current]:
        raise Invalid(f"a lead cannot go from {current} to {target}", "status")
    filled = lead.attributes.get("fields") or {}
    for name in required.get(target.value, ()):
        if fields.is_blank(filled.get(name)):
            when = f"the lead is {target}" if target in OPEN_STATUSES else "closing the lead"
            raise Invalid(f"fill in {name} before {when}", name)
    if target in OPEN_STATUSES:
        if target == LeadStatus.ASSIGNED and lead.assignee_id is None:
            raise Invalid("an assigned lead needs an assignee", "assignee_id")
        put("status", target.value)
        for name in ("outcome", "lost_reason", "lost_reason_code", "handed_over_to", "closed_at"):
            put(name, None)
        return
    outcome = TERMINAL.get(target) or changes.outcome or LeadOutcome.RESOLVED
    if target == LeadStatus.CLOSED and outcome not in (LeadOutcome.RESOLVED, LeadOutcome.HANDED_OVER):
        raise Invalid("a closed lead's outcome is resolved or handed_over", "outcome")
    if target == LeadStatus.LOST and not (changes.lost_reason or "").strip() and not changes.lost_reason_code:
        raise Invalid("a lost lead needs a reason", "lost_reason")
    if outcome == LeadOutcome.HANDED_OVER and not (changes.handed_over_to or "").strip():
        raise Invalid("say whom the lead was handed over to", "handed_over_to")
    put("status", target.value)
    put("outcome", outcome.value)
    lost = target == LeadStatus.LOST
    put("lost_reason", ((changes.lost_reason or "").strip()[:500] or changes.lost_reason_code) if lost else None)
    put("lost_reason_code", changes.lost_reason_code if lost else None)
    put("handed_over_to", (changes.handed_over_to or "").strip()[:200] or None)
    put("closed_at", now)
