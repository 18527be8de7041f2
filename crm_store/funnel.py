"""The funnel report: of the leads a pipeline took in over a period, how many reached each stage and how they ended.

Computed from the stage history (`stage_changes`) of the period's leads: entering counts, conversion
from one stage to the next, overall conversion (won / every lead that entered), amounts won and lost,
lost reasons by the stage the deal was lost from, and time in stage.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_store.leads import visible
from crm_store.models import Lead, StageChange
from crm_store.pipelines import funnel
from crm_store.types import Viewer


def _quantile(values: list[float], q: float) -> float | None:
    """Nearest-rank quantile: a value that happened, not an interpolation."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.999999) - 1))]


@dataclass(slots=True)
class _Lead:
    stage_id: int | None
    amount: int | None
    currency: str | None
    reason: str | None
    group: str
    visits: list[tuple[int, int | None, datetime]]     # (to stage, from stage, at)


async def report(session: AsyncSession, viewer: Viewer, pipeline_id: int, since: datetime, until: datetime,
                 by: str | None = None) -> dict[str, Any]:
    """The report as plain data, stages in the pipeline's order (retired ones too: they have history), over
    the leads the viewer may see (a manager: their team's)."""
    found = await funnel(session, pipeline_id, retired=True)
    kinds = {s.id: s.kind for s in found.stages}
    cohort = (Lead.pipeline_id == pipeline_id, Lead.created_at >= since, Lead.created_at < until,
              Lead.deleted_at.is_(None), visible(viewer))
    leads: dict[int, _Lead] = {}
    for lead_id, stage_id, amount, currency, code, text, assignee, channel in await session.execute(
            select(Lead.id, Lead.stage_id, Lead.amount, Lead.currency, Lead.lost_reason_code, Lead.lost_reason,
                   Lead.assignee_id, Lead.channel).where(*cohort)):
        group = (str(assignee) if assignee is not None else "") if by == "manager" else channel if by == "source" \
            else ""
        leads[lead_id] = _Lead(stage_id, amount, currency, code or text, group, [])
    # The history in its own narrow query: a join would repeat every lead's columns on each of its changes.
    for lead_id, to_id, from_id, at in await session.execute(
            select(StageChange.lead_id, StageChange.to_stage_id, StageChange.from_stage_id, StageChange.at)
            .join(Lead, Lead.id == StageChange.lead_id).where(*cohort, StageChange.pipeline_id == pipeline_id)
            .order_by(StageChange.lead_id, StageChange.at, StageChange.id)):
        if lead_id in leads:      # a lead created between the two reads waits for the next report
            leads[lead_id].visits.append((to_id, from_id, at))
    body = _summary(found.stages, kinds, list(leads.values()))
    body["pipeline"] = {"id": found.pipeline.id, "name": found.pipeline.name}
    if by in ("manager", "source"):
        groups: dict[str, list[_Lead]] = defaultdict(list)
        for item in leads.values():
            groups[item.group].append(item)
        body["by"] = by
        body["groups"] = [{"key": key or None, **_summary(found.stages, kinds, members, brief=True)}
                          for key, members in sorted(groups.items(), key=lambda kv: -len(kv[1]))]
    return body


def _summary(stages: list[Any], kinds: dict[int, str], leads: list[_Lead], brief: bool = False) -> dict[str, Any]:
    entered: dict[int, set[int]] = defaultdict(set)
    stays: dict[int, list[float]] = defaultdict(list)
    lost_from: dict[int, Counter[str]] = defaultdict(Counter)
    won_amounts: Counter[str] = Counter()
    lost_amounts: Counter[str] = Counter()
    won = 0
    for n, item in enumerate(leads):
        for k, (to_id, _, at) in enumerate(item.visits):
            entered[to_id].add(n)
            if k + 1 < len(item.visits):
                stays[to_id].append((item.visits[k + 1][2] - at).total_seconds())
        kind = kinds.get(item.stage_id or 0)
        if kind == "won":
            won += 1
            if item.amount is not None:
                won_amounts[item.currency or ""] += item.amount
        elif kind == "lost":
            if item.amount is not None:
                lost_amounts[item.currency or ""] += item.amount
            last_from = item.visits[-1][1] if item.visits else None
            lost_from[last_from or 0][item.reason or ""] += 1
    total = len(leads)
    out_stages = []
    for i, stage in enumerate(stages):
        row: dict[str, Any] = {"id": stage.id, "name": stage.name, "kind": stage.kind, "retired": stage.retired,
                               "entered": len(entered[stage.id])}
        nxt = stages[i + 1] if i + 1 < len(stages) else None
        if nxt is not None and stage.kind == "open":
            base = entered[stage.id]
            row["to_next"] = round(len(base & entered[nxt.id]) / len(base), 4) if base else None
        if not brief:
            row["median_hours"] = _hours(_quantile(stays[stage.id], 0.5))
            row["p90_hours"] = _hours(_quantile(stays[stage.id], 0.9))
            row["lost_reasons"] = dict(lost_from.get(stage.id, {}))
        out_stages.append(row)
    return {"leads": total, "won": won, "conversion": round(won / total, 4) if total else None,
            "won_amounts": dict(won_amounts), "lost_amounts": dict(lost_amounts), "stages": out_stages}


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)
