"""A PATCH of a lead: its own columns changed in Core statements, the rest (an assignee, custom fields, a move
between stages) through `leads.update_lead`, under the same rules and with the same answers.

Closing a lead is the last step of every lead's loop, and it runs in the SQLite writer's thread, which every
write of the process waits for. As ORM objects it cost ~1 ms of that thread a close (the Lead built from its
row, the unit of work's flush, the stage hook's history, the open task as an object, the audit entry's flush):
here it is one read (the lead's columns and its open task), one UPDATE of the changed columns, and the stage
history's row when the stage follows the status, as `crm_store.stage_sync` would have written it.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, insert, literal_column, select, update
from sqlalchemy.orm import Session

from crm_store import call_grants, fields, lead_changes, leads, pipelines, search
from crm_store.errors import Forbidden, NotFound
from crm_store.models import Lead, RoutingTask, StageChange
from crm_store.prepared import Prepared
from crm_store.routing_log import OPEN_TASK_STATES, open_task_for_lead
from crm_store.stage_sync import moved_stage, stage_change, stage_rules
from crm_store.types import CLOSED_STATUSES, LeadChanges, Permissions, Viewer

_LEADS, _TASKS = Lead.__table__, RoutingTask.__table__
# Every column but the search text (long, and nothing here reads it).
_COLUMNS = [c for c in _LEADS.c if c.key != "search_text"]
# The lead and one of its open tasks (what a close or a hand-over ends), in one statement built once; the states
# written into its text (an expanding IN was rendered anew at every execution).
_OPEN = [literal_column(f"'{state}'") for state in OPEN_TASK_STATES]
_READ = Prepared(select(*_COLUMNS, _TASKS.c.id.label("open_task_id"), _TASKS.c.state.label("open_task_state"))
                 .select_from(_LEADS.outerjoin(_TASKS, and_(_TASKS.c.lead_id == _LEADS.c.id,
                                                            _TASKS.c.state.in_(_OPEN))))
                 .where(_LEADS.c.id == bindparam("lead_id")).limit(1))
# The SET clause is the changed columns, given at execution (one compiled form per set of columns).
_UPDATE = Prepared(update(_LEADS).where(_LEADS.c.id == bindparam("patched_lead_id")))
_STAGE_CHANGE = Prepared(insert(StageChange.__table__))


class LeadValues(dict[str, Any]):
    """A lead's columns, read as attributes too: what the pipeline rules and `lead_json` read of a Lead."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True, slots=True)
class Patched:
    lead: LeadValues                        # every column as it now is
    diff: dict[str, Any]                    # {field: [old, new]}
    open_task: tuple[str, str] | None       # (id, state) of an open task, when the change ends it


def own_columns_only(changes: LeadChanges) -> bool:
    """Nothing that needs another row read or checked: no assignee, no custom field, no stage or pipeline named."""
    return (changes.assignee_id is None and not changes.unassign and not changes.fields
            and changes.pipeline_id is None and changes.stage_id is None)


def ends_task(diff: Mapping[str, Any]) -> bool:
    """Closed, or handed to someone by hand: routing stops offering it."""
    return ("status" in diff and diff["status"][1] in _CLOSED) or "assignee_id" in diff


_CLOSED = frozenset(s.value for s in CLOSED_STATUSES)


async def patch(session: Any, viewer: Viewer, lead_id: int, changes: LeadChanges, perms: Permissions,
                now: datetime) -> Patched:
    """Apply `changes` (store work run by the writer: `session` an AsyncSession or the writer's)."""
    if own_columns_only(changes):
        done = await session.run_sync(_patch_columns, viewer, lead_id, changes, perms, now)
        if done is not None:
            return done
    diff = await leads.update_lead(session, viewer, lead_id, changes, perms, now)
    lead = await leads.just_checked(session, lead_id)
    task = await open_task_for_lead(session, lead_id) if ends_task(diff) else None
    return Patched(LeadValues((c.key, getattr(lead, c.key)) for c in _COLUMNS), diff,
                   (task.id, task.state) if task is not None else None)


def _patch_columns(session: Session, viewer: Viewer, lead_id: int, changes: LeadChanges, perms: Permissions,
                   now: datetime) -> Patched | None:
    """`update_lead` for `own_columns_only` changes; None when this session holds the lead as an object
    (changed earlier in the same group commit): the ORM's way then, so that the object and the row agree."""
    if session.identity_map.get((Lead, (lead_id,), None)) is not None:     # orm.util.identity_key's, made here
        return None
    connection = session.connection()
    rows = _READ.fetch(connection, {"lead_id": lead_id})
    if not rows or rows[0].deleted_at is not None:
        raise NotFound(f"lead {lead_id} not found")
    values = rows[0]._asdict()
    task = (values.pop("open_task_id"), values.pop("open_task_state"))
    lead = LeadValues(values)
    if not (viewer.role.sees_everything or leads.sees(viewer, lead)) \
            and not call_grants.rang_for(session, viewer.user_id, lead_id):     # type: ignore[arg-type]
        raise Forbidden(f"lead {lead_id} belongs to someone else")
    if not leads.is_own(viewer, lead) and viewer.role not in perms.edit_others:     # type: ignore[arg-type]
        raise Forbidden(f"your role may not edit lead {lead_id}, which is not yours")
    diff: dict[str, Any] = {}
    changed: dict[str, Any] = {}

    def put(name: str, value: object) -> None:
        old = lead[name]
        if old != value:
            diff[name] = [lead_changes.plain(old), lead_changes.plain(value)]
            lead[name] = changed[name] = value

    lead_changes.put_own_columns(changes, put)
    stage_change = None
    if changes.status is not None and changes.status != lead.status:
        required = fields.lead_requirements(session, tuple(s.value for s in CLOSED_STATUSES))
        for status, names in changes.required_fields.items():
            required[status] = tuple(dict.fromkeys((*required.get(status, ()), *names)))
        lead_changes.transition(lead, changes, put, now, required)
        stage_change = _follow_status(session, lead, changed, viewer.user_id, now)
        if stage_change is not None:
            diff["stage_id"] = [stage_change["from_stage_id"], stage_change["to_stage_id"]]
    if diff:
        lead["updated_at"] = changed["updated_at"] = now
        _UPDATE.run(connection, {**changed, "patched_lead_id": lead_id})
    if stage_change is not None:
        _STAGE_CHANGE.run(connection, stage_change)
    if "notes" in diff or "subject" in diff:
        search.refresh(session, (), (lead_id,))
    return Patched(lead, diff, task if task[0] is not None and ends_task(diff) else None)


def _follow_status(session: Session, lead: LeadValues, changed: dict[str, Any], actor: int,
                   now: datetime) -> dict[str, Any] | None:
    """The stage the new status belongs in (`stage_sync`'s flush hook, for a lead that is no ORM object), checked
    against that stage's rules as a move would be; the history's row for it, or None if the stage stays."""
    before, pipeline_id = lead.stage_id, lead.pipeline_id
    target = moved_stage(session, pipeline_id, lead.status, before)
    if target is None:
        return None
    lead["stage_id"] = changed["stage_id"] = target
    lead["stage_entered_at"] = changed["stage_entered_at"] = now
    stage = stage_rules(session, pipeline_id, target)
    if stage is not None:
        pipelines.check_entry(lead, stage)      # type: ignore[arg-type]
    return stage_change(lead.id, pipeline_id, before, target, now, actor)
