"""A lead's stage follows its status wherever the status is set, and every stage change is written down.

Routing assigns, a reply puts a lead in progress, a client reopens a closed lead, the old status API
closes one: none of them knows about funnels. One flush hook keeps the stage in step with all of
them, so no path can leave a lead in a column its status contradicts or a change out of the history.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from crm_store import config_cache
from crm_store.many_rows import insert_rows
from crm_store.models import Lead, Stage, StageChange

# The kind of stage each fixed status belongs in.
KIND_OF_STATUS = {"new": "open", "assigned": "open", "in_progress": "open", "won": "won", "lost": "lost",
                  "closed": "closed"}
# Who made the change, set by the code that acts for a user (None: the system).
ACTOR = "stage_actor_id"
# The flush's stage changes, written when it ends (session.info).
_PENDING = "stage_changes_pending"


@dataclass(frozen=True, slots=True)
class StageRules:
    """What entering a stage depends on, as kept between requests (crm_store.config_cache)."""

    id: int
    pipeline_id: int
    name: str
    kind: str
    status: str | None
    required_fields: tuple[str, ...]
    retired: bool


def stages_of(session: Session, pipeline_id: int) -> tuple[StageRules, ...]:
    """The pipeline's stages in their order, retired ones included."""
    def load() -> tuple[StageRules, ...]:
        rows = session.execute(select(Stage.id, Stage.name, Stage.kind, Stage.status, Stage.required_fields,
                                      Stage.retired)
                               .where(Stage.pipeline_id == pipeline_id).order_by(Stage.position, Stage.id)).all()
        return tuple(StageRules(r.id, pipeline_id, r.name, r.kind, r.status, tuple(r.required_fields or ()),
                                bool(r.retired)) for r in rows)
    return config_cache.cached(session, ("stages", pipeline_id), load)


def stage_rules(session: Session, pipeline_id: int, stage_id: int) -> StageRules | None:
    return next((s for s in stages_of(session, pipeline_id) if s.id == stage_id), None)


def stage_for_status(session: Session, pipeline_id: int, status: str, current_id: int | None) -> int | None:
    """The stage a lead with `status` belongs in, staying where it is whenever that already fits."""
    stages = stages_of(session, pipeline_id)
    live = [s for s in stages if not s.retired]
    current = next((s for s in stages if s.id == current_id), None)
    exact = next((s for s in live if s.status == status), None)
    kind = KIND_OF_STATUS.get(status, "open")
    if current is not None and current.kind == kind and (current.status is None or exact is None):
        # A stage an admin added (no fixed status) keeps its leads while routing or a reply moves the status.
        return current.id
    if exact is not None:
        return exact.id
    for wanted in (kind, "lost") if kind == "closed" else (kind,):
        same = next((s for s in live if s.kind == wanted), None)
        if same is not None:
            return same.id
    return current_id


def moved_stage(session: Session, pipeline_id: int | None, status: str, current_id: int | None) -> int | None:
    """Where a lead written without the ORM goes when its status becomes `status`, as the flush hook below moves
    an object; None when it stays (or belongs to no funnel)."""
    if pipeline_id is None:
        return None
    target = stage_for_status(session, pipeline_id, status, current_id)
    return target if target is not None and target != current_id else None


def stage_change(lead_id: int, pipeline_id: int, before: int | None, after: int, at: datetime,
                 actor: int | None) -> dict[str, Any]:
    """A row of the stage history: the lead moved from `before` to `after` at `at`, by `actor` (None: the system)."""
    return {"lead_id": lead_id, "pipeline_id": pipeline_id, "from_stage_id": before, "to_stage_id": after,
            "at": at, "user_id": actor}


@event.listens_for(Session, "before_flush")
def _follow_status(session: Session, _context: Any, _instances: Any) -> None:
    # Assigned afresh by every flush: what a flush that failed before its end left here is dropped.
    session.info[_PENDING] = pending = []
    for lead in [o for o in session.dirty if isinstance(o, Lead)]:
        state = inspect(lead)
        if lead.pipeline_id is None:
            continue
        if not state.attrs.stage_id.history.has_changes() and state.attrs.status.history.has_changes():
            with session.no_autoflush:
                target = stage_for_status(session, lead.pipeline_id, lead.status, lead.stage_id)
            if target is not None and target != lead.stage_id:
                lead.stage_id = target
        history = state.attrs.stage_id.history
        if not history.has_changes():
            continue
        before = history.deleted[0] if history.deleted else None
        if before == lead.stage_id or lead.stage_id is None:
            continue
        at = lead.updated_at or datetime.now(UTC)
        lead.stage_entered_at = at
        pending.append(stage_change(lead.id, lead.pipeline_id, before, lead.stage_id, at, session.info.get(ACTOR)))


@event.listens_for(Session, "after_flush")
def _write_changes(session: Session, _context: Any) -> None:
    # One multi-row INSERT for the flush's changes, in its transaction: as objects the ORM wrote them one
    # statement per row on SQLite (it fetches each new id), N for the N answers of a grouped voice write.
    pending = session.info.pop(_PENDING, None)
    if pending:
        insert_rows(session.connection(), StageChange.__table__, pending)
