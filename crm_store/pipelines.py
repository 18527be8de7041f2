"""Funnels and their stages: what admins define, where a new lead enters, and the rules of entering a stage."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from crm_store import config_cache
from crm_store.errors import Conflict, Invalid, NotFound, found
from crm_store.models import Lead, Pipeline, Stage
from crm_store.stage_sync import StageRules, stage_for_status
from crm_store.types import OPEN_STATUSES, LeadOutcome, LeadStatus

KINDS = ("open", "won", "lost", "closed")
# What a new pipeline starts with when it is given no stages: one open stage and the three ways out.
STARTER_STAGES = (("New", "open"), ("Won", "won"), ("Lost", "lost"), ("Closed", "closed"))
# Lead columns a stage may require besides the card's own fields (`attributes.fields`).
LEAD_COLUMNS = ("amount", "currency", "close_date", "subject", "notes", "lost_reason")


@dataclass(frozen=True, slots=True)
class Funnel:
    pipeline: Pipeline
    stages: list[Stage]


@dataclass(frozen=True, slots=True)
class StageSpec:
    """A stage as an admin describes it; None leaves a field as it is when editing."""

    name: str | None = None
    kind: str | None = None
    position: int | None = None
    required_fields: tuple[str, ...] | None = None
    deadline_hours: float | None = None
    clear_deadline: bool = False
    retired: bool | None = None


async def funnels(session: AsyncSession, *, retired: bool = False) -> list[Funnel]:
    """Every pipeline in order with its stages in order (retired stages only when asked)."""
    pipes = list(await session.scalars(select(Pipeline).order_by(Pipeline.position, Pipeline.id)))
    query = select(Stage).order_by(Stage.pipeline_id, Stage.position, Stage.id)
    if not retired:
        query = query.where(Stage.retired.is_(False))
    stages = list(await session.scalars(query))
    return [Funnel(p, [s for s in stages if s.pipeline_id == p.id]) for p in pipes]


async def funnel(session: AsyncSession, pipeline_id: int, *, retired: bool = True) -> Funnel:
    pipeline = found(await session.get(Pipeline, pipeline_id), f"pipeline {pipeline_id} not found")
    query = select(Stage).where(Stage.pipeline_id == pipeline_id).order_by(Stage.position, Stage.id)
    if not retired:
        query = query.where(Stage.retired.is_(False))
    return Funnel(pipeline, list(await session.scalars(query)))


async def create_pipeline(session: AsyncSession, key: str, name: str, stages: list[StageSpec],
                          now: datetime) -> Funnel:
    if await session.scalar(select(Pipeline.id).where(Pipeline.key == key)) is not None:
        raise Conflict(f"a pipeline with key {key!r} exists already", "key")
    last = await session.scalar(select(func.max(Pipeline.position)))
    pipeline = Pipeline(key=key, name=name, position=(last or 0) + 1, created_at=now)
    session.add(pipeline)
    await session.flush()
    specs = stages or [StageSpec(name=n, kind=k) for n, k in STARTER_STAGES]
    if not any(s.kind == "open" for s in specs):
        raise Invalid("a pipeline needs at least one open stage for its leads to enter", "stages")
    for i, spec in enumerate(specs):
        session.add(_new_stage(pipeline.id, spec, i, now))
    await session.flush()
    return await funnel(session, pipeline.id)


def _new_stage(pipeline_id: int, spec: StageSpec, position: int, now: datetime) -> Stage:
    if not spec.name:
        raise Invalid("a stage needs a name", "name")
    if spec.kind not in KINDS:
        raise Invalid(f"a stage's kind is one of {', '.join(KINDS)}", "kind")
    return Stage(pipeline_id=pipeline_id, name=spec.name, kind=spec.kind, position=position, status=None,
                 required_fields=list(spec.required_fields or ()), deadline_hours=spec.deadline_hours,
                 retired=False, created_at=now)


async def rename_pipeline(session: AsyncSession, pipeline_id: int, name: str) -> Funnel:
    found = await funnel(session, pipeline_id)
    found.pipeline.name = name
    return found


async def add_stage(session: AsyncSession, pipeline_id: int, spec: StageSpec, now: datetime) -> Stage:
    found = await funnel(session, pipeline_id)
    stage = _new_stage(pipeline_id, spec, len(found.stages), now)
    session.add(stage)
    await session.flush()
    if spec.position is not None:
        _reorder(found.stages + [stage], stage, spec.position)
    return stage


async def change_stage(session: AsyncSession, pipeline_id: int, stage_id: int, spec: StageSpec) -> Stage:
    """Rename, reorder, change the rules of, retire or bring back a stage."""
    found = await funnel(session, pipeline_id)
    stage = next((s for s in found.stages if s.id == stage_id), None)
    if stage is None:
        raise NotFound(f"stage {stage_id} not found in pipeline {pipeline_id}")
    if spec.name is not None:
        stage.name = spec.name
    if spec.required_fields is not None:
        stage.required_fields = list(spec.required_fields)
    if spec.deadline_hours is not None or spec.clear_deadline:
        stage.deadline_hours = spec.deadline_hours
    if spec.kind is not None and spec.kind != stage.kind:
        raise Invalid("a stage's kind cannot change (its history counts by it): add a new stage", "kind")
    if spec.retired is True and not stage.retired:
        waiting = await session.scalar(select(func.count()).select_from(Lead).where(
            Lead.stage_id == stage.id, Lead.deleted_at.is_(None)))
        if waiting:
            raise Conflict(f"{waiting} leads are still in stage {stage.name!r}: move them first", "retired")
        live_open = [s for s in found.stages if s.kind == "open" and not s.retired and s.id != stage.id]
        if stage.kind == "open" and not live_open:
            raise Conflict("the last open stage of a pipeline cannot be retired", "retired")
    if spec.retired is not None:
        stage.retired = spec.retired
    if spec.position is not None:
        _reorder(found.stages, stage, spec.position)
    return stage


def _reorder(stages: list[Stage], moved: Stage, position: int) -> None:
    ordered = [s for s in sorted(stages, key=lambda s: (s.position, s.id)) if s is not moved]
    ordered.insert(max(0, min(position, len(ordered))), moved)
    for i, stage in enumerate(ordered):
        stage.position = i


def entry_stage(session: Session, key: str | None, cache: dict[str | None, tuple[int, int] | None]) -> \
        tuple[int, int] | None:
    """(pipeline id, first stage) where a new lead from a channel naming `key` enters; the first pipeline by default."""
    if key not in cache:
        # Kept between batches like the stages it picks from (crm_store.config_cache): one statement of every
        # group commit's dozen, for rows an admin changes a few times a year.
        cache[key] = config_cache.cached(session, ("entry_stage", key), lambda: _entry_stage(session, key))
    return cache[key]


def _entry_stage(session: Session, key: str | None) -> tuple[int, int] | None:
    pipes = session.execute(select(Pipeline.id, Pipeline.key).order_by(Pipeline.position, Pipeline.id)).all()
    chosen = next((p.id for p in pipes if p.key == key), pipes[0].id if pipes else None)
    stage = stage_for_status(session, chosen, LeadStatus.NEW.value, None) if chosen is not None else None
    return (chosen, stage) if chosen is not None and stage is not None else None


# -- a lead entering a stage -------------------------------------------------------------------------

def missing_field(lead: Lead, required: list[str]) -> str | None:
    """The first of `required` the lead has not filled in: a column of the lead or a field of its card."""
    filled: Mapping[str, Any] = lead.attributes.get("fields") or {}
    for name in required:
        value = getattr(lead, name) if name in LEAD_COLUMNS else filled.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return name
    return None


def check_entry(lead: Lead, stage: Stage | StageRules) -> None:
    """Refuse, naming the field, a lead that has not what `stage` requires; a retired stage takes nobody."""
    if stage.retired:
        raise Invalid(f"stage {stage.name!r} is retired", "stage_id")
    name = missing_field(lead, list(stage.required_fields or ()))
    if name is not None:
        raise Invalid(f"fill in {name} before moving the lead to {stage.name!r}", name)


@dataclass(frozen=True, slots=True)
class Entering:
    """What a move says besides the stage: why a deal was lost or closed."""

    lost_reason: str | None = None
    lost_reason_code: str | None = None
    outcome: LeadOutcome | None = None
    handed_over_to: str | None = None


async def target_stage(session: AsyncSession, lead: Lead, pipeline_id: int | None, stage_id: int | None) -> Stage:
    """The stage a PATCH names: the stage itself, or where the lead lands in another pipeline."""
    if stage_id is not None:
        stage = await session.get(Stage, stage_id)
        if stage is None:
            raise Invalid(f"stage {stage_id} does not exist", "stage_id")
        if pipeline_id is not None and stage.pipeline_id != pipeline_id:
            raise Invalid(f"stage {stage_id} is not in pipeline {pipeline_id}", "stage_id")
        return stage
    assert pipeline_id is not None
    if await session.get(Pipeline, pipeline_id) is None:
        raise Invalid(f"pipeline {pipeline_id} does not exist", "pipeline_id")
    landing = await session.run_sync(lambda s: stage_for_status(s, pipeline_id, lead.status, None))
    stage = await session.get(Stage, landing) if landing is not None else None
    if stage is None:
        raise Invalid(f"pipeline {pipeline_id} has no stage a lead can enter", "pipeline_id")
    return stage


def enter(lead: Lead, stage: Stage, why: Entering, put: Any, now: datetime) -> None:
    """Move the lead to `stage` under its rules; its status, outcome and close time follow the stage's kind."""
    check_entry(lead, stage)
    if stage.kind == "open":
        status = stage.status or (lead.status if lead.status in OPEN_STATUSES else
                                  LeadStatus.IN_PROGRESS.value if lead.assignee_id else LeadStatus.NEW.value)
        if status == LeadStatus.ASSIGNED and lead.assignee_id is None:
            raise Invalid(f"assign the lead to someone before moving it to {stage.name!r}", "assignee_id")
        if status == LeadStatus.NEW and lead.assignee_id is not None:
            status = LeadStatus.ASSIGNED.value
        put("status", status)
        for name in ("outcome", "lost_reason", "lost_reason_code", "handed_over_to", "closed_at"):
            put(name, None)
    elif stage.kind == "lost":
        text, code = (why.lost_reason or "").strip(), why.lost_reason_code
        if not text and not code:
            raise Invalid(f"say why the deal was lost before moving it to {stage.name!r}", "lost_reason")
        put("status", LeadStatus.LOST.value)
        put("outcome", LeadOutcome.LOST.value)
        put("lost_reason", text[:500] or code)
        put("lost_reason_code", code)
        put("handed_over_to", None)
    else:
        outcome = LeadOutcome.WON if stage.kind == "won" else why.outcome or LeadOutcome.RESOLVED
        if stage.kind == "closed" and outcome not in (LeadOutcome.RESOLVED, LeadOutcome.HANDED_OVER):
            raise Invalid("a closed lead's outcome is resolved or handed_over", "outcome")
        if outcome == LeadOutcome.HANDED_OVER and not (why.handed_over_to or "").strip():
            raise Invalid("say whom the lead was handed over to", "handed_over_to")
        put("status", LeadStatus.WON.value if stage.kind == "won" else LeadStatus.CLOSED.value)
        put("outcome", outcome.value)
        put("handed_over_to", (why.handed_over_to or "").strip()[:200] or None)
        for name in ("lost_reason", "lost_reason_code"):
            put(name, None)
    if lead.closed_at is None and stage.kind != "open":
        put("closed_at", now)
    put("pipeline_id", stage.pipeline_id)
    put("stage_id", stage.id)


def deadline_of(lead: Lead, stage: Stage | None) -> datetime | None:
    """When the lead should have left its stage, if the stage sets a deadline."""
    if stage is None or stage.deadline_hours is None or lead.stage_entered_at is None:
        return None
    return lead.stage_entered_at + timedelta(hours=stage.deadline_hours)

