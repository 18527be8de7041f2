"""/api/v1/leads: list, card, change, delete, add by hand; every read and change is audited."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from enum import StrEnum
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from channels.identity import InvalidIdentity, normalize_email, normalize_phone
from channels.types import Confidence, IdentityClaim, InboundContact
from crm_store import audit, contacts, lead_lines, lead_patch, leads, routing_log, users
from crm_store.errors import Conflict, Forbidden, NotFound, StoreError
from crm_store.types import LeadChanges, LeadFilter, LeadStatus, LeadOutcome
from gateway.api.params import DbId, as_id, path_id, query_int
from gateway.api.serialize import card_json, json_response, lead_json
from gateway.auth import client_ip, principal
from gateway.errors import read_model, refuse
from gateway.tasks.wiring import CLOCKS
from gateway.keys import CLOCK, INGESTOR, INTAKE, NOTIFIER, PERMISSIONS, ROUTING, SESSIONS, SETTINGS
from routing.events import InvalidState, RoutingError

log = logging.getLogger(__name__)

routes = web.RouteTableDef()
E = TypeVar("E", bound=StrEnum)
Work = Callable[[Any], Awaitable[tuple[Any, dict[str, Any]]]]


def _csv_enum(request: web.Request, name: str, kind: type[E]) -> tuple[E, ...]:
    raw = request.query.get(name, "")
    try:
        return tuple(kind(part) for part in raw.split(",") if part)  # type: ignore[call-arg]
    except ValueError:
        refuse(422, "invalid", f"unknown {name} in {raw!r}", name)


def _lead_id(request: web.Request) -> int:
    return path_id(request, "lead_id", "lead")


def _filter(request: web.Request) -> LeadFilter:
    who = principal(request)
    assignee = request.query.get("assignee")
    assignee_id, unassigned, pool = None, False, False
    view = request.query.get("view")
    if view == "mine":
        assignee = "me"
    elif view == "unassigned":
        pool = True
    elif view not in (None, "", "all"):
        refuse(422, "invalid", "view is 'mine', 'unassigned' or 'all'", "view")
    if assignee == "me":
        assignee_id = who.user_id
    elif assignee == "none":
        unassigned = True
    elif assignee:
        assignee_id = as_id(assignee)
        if assignee_id is None:
            refuse(422, "invalid", "assignee is 'me', 'none' or a user id", "assignee")
    q = request.query.get("q", "").strip()[:200] or None
    q_phone = q_email = None
    if q and sum(ch.isdigit() for ch in q) >= 7:
        try:
            q_phone = normalize_phone(q, request.app[SETTINGS].phone.region)
        except InvalidIdentity:
            q_phone = None
    if q and "@" in q:
        try:
            q_email = normalize_email(q)
        except InvalidIdentity:
            q_email = None
    return LeadFilter(
        status=_csv_enum(request, "status", LeadStatus), channel=tuple(p for p in request.query.get("channel", "")
                                                                       .split(",") if p),
        assignee_id=assignee_id, unassigned=unassigned, pool=pool, q=q, q_phone=q_phone, q_email=q_email,
        limit=query_int(request, "limit", 50, 1, 200), offset=query_int(request, "offset", 0, 0, 1_000_000),
        before=_cursor(request, q),
    )


def _cursor(request: web.Request, q: str | None) -> tuple[datetime, int] | None:
    """`before`: the `next` of the previous page (its last line's activity time and id)."""
    raw = request.query.get("before")
    if raw is None:
        return None
    if q:
        refuse(422, "invalid", "before pages a list, not a search (search results come best first)", "before")
    at, _, lead_id = raw.rpartition(",")
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None or not lead_id.isdigit() or len(lead_id) > 18:
        refuse(422, "invalid", "before is the `next` of the previous page: '<ISO time with zone>,<lead id>'", "before")
    return when, int(lead_id)


def _next(found: list[Any], f: LeadFilter) -> str | None:
    if len(found) < f.limit or f.q:
        return None
    last = found[-1]
    return f"{last.last_activity_at.isoformat()},{last.id}"


@routes.get("/api/v1/leads")
async def list_leads(request: web.Request) -> web.Response:
    who, f = principal(request), _filter(request)
    async with request.app[SESSIONS]() as session, session.begin():
        found = await leads.list_leads(session, who.viewer, f)
        people = await leads.contact_summaries(session, {x.contact_id for x in found})
        audit.record(session, "leads.list", request.app[CLOCK](), user_id=who.user_id, ip=client_ip(request),
                     detail={"query": dict(request.query), "count": len(found), "lead_ids": [x.id for x in found]})
        extra = await lead_lines.lines(session, found)
        items = [{**lead_json(x), "contact": people.get(x.contact_id), "response": None, **extra.get(x.id, {})}
                 for x in found]
    # The response clocks (gateway/tasks) read on a connection of their own: read inside the transaction, that
    # second checkout made lists that came together each hold one connection and wait for another (the pool's
    # whole timeout, then a 500).
    responses = await request.app[CLOCKS].views([x.id for x in found])
    for lead, item in zip(found, items, strict=True):
        item["response"] = responses.get(lead.id)
    return json_response({"items": items, "limit": f.limit, "offset": f.offset, "next": _next(found, f)})


@routes.get("/api/v1/leads/counts")
async def lead_counts(request: web.Request) -> web.Response:
    """The console's numbers: my open leads, and the work nobody has taken that I may take."""
    who = principal(request)
    async with request.app[SESSIONS]() as session:
        return json_response(await leads.counts(session, who.viewer))


@routes.post("/api/v1/leads/{lead_id}/take")
async def take_lead(request: web.Request) -> web.Response:
    """Take a lead nobody has: its waiting task is reserved exactly as an accepted offer; one taker wins."""
    lead_id, who = _lead_id(request), principal(request)

    async def check(session: Any) -> tuple[Any, dict[str, Any]]:
        await leads.takeable(session, who.viewer, lead_id)
        task = await routing_log.open_task_for_lead(session, lead_id)
        return (task.id if task is not None and task.state in ("pending", "reserved") else None), {}

    task_id = await _audited(request, "lead.take", lead_id, check)
    if task_id is not None:
        async with request.app[SESSIONS]() as session:
            user = await users.find_user(session, who.user_id)
        try:
            if user is not None:    # routing learns of users added since start at their first connect
                await request.app[ROUTING].sync_user(user)
            await request.app[ROUTING].take(task_id, who.user_id)   # assigns the lead as an accept does
        except InvalidState:
            refuse(409, "conflict", f"lead {lead_id} was already taken by someone else", "lead_id")
        except RoutingError as exc:   # the task itself is gone from routing (a restart lost it)
            log.info("task %s of lead %s unknown to routing (%s): taken in the store", task_id, lead_id, exc)
            task_id = None
    if task_id is None:
        async with request.app[SESSIONS]() as session, session.begin():
            await leads.claim(session, lead_id, who.user_id, request.app[CLOCK]())
    async with request.app[SESSIONS]() as session:
        lead = await leads.get_visible(session, who.viewer, lead_id)
        if lead.assignee_id != who.user_id:
            refuse(409, "conflict", f"lead {lead_id} was already taken by someone else", "lead_id")
        return json_response(lead_json(lead))


async def _audited(request: web.Request, action: str, lead_id: int, work: Work) -> Any:
    """Run `work(session)` in the writer's next group commit (store calls only: no event-loop hop per
    statement while the write lock is held); record the outcome, refusals included, in the audit log."""
    who, now, ip = principal(request), request.app[CLOCK](), client_ip(request)
    step = f"{request.method} {request.match_info.route.resource.canonical}" \
        if request.match_info.route.resource is not None else action

    async def done(session: Any) -> Any:
        result, detail = await work(session)
        await session.run_sync(audit.write, action, now, user_id=who.user_id, lead_id=lead_id, ip=ip, detail=detail)
        return result

    async def denied(session: Any, reason: str) -> None:
        audit.record(session, action, now, user_id=who.user_id, lead_id=lead_id, ip=ip, outcome="denied",
                     detail={"reason": reason})

    writer = request.app[INGESTOR]
    try:
        return await writer.write_soon(done, step)
    except (Conflict, Forbidden, NotFound) as exc:
        await writer.write_soon(lambda session: denied(session, exc.message), step)
        raise


@routes.get("/api/v1/leads/{lead_id}")
async def get_lead(request: web.Request) -> web.Response:
    lead_id, who = _lead_id(request), principal(request)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        found = await leads.card(session, who.viewer, lead_id)
        return card_json(found), {"contact_id": found.contact.id}

    card = await _audited(request, "lead.read", lead_id, work)
    card["response"] = (await request.app[CLOCKS].views([lead_id])).get(lead_id)     # the response clock, if one runs
    return json_response(card)


class LeadPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: LeadStatus | None = None
    notes: str | None = Field(None, max_length=20000)
    assignee_id: DbId | None = None
    outcome: LeadOutcome | None = None
    lost_reason: str | None = Field(None, max_length=500)
    handed_over_to: str | None = Field(None, max_length=200)
    priority: int | None = Field(None, ge=-100, le=100)
    subject: str | None = Field(None, max_length=500)
    fields: dict[str, Any] | None = None     # custom field values, checked against their definitions
    pipeline_id: DbId | None = None
    stage_id: DbId | None = None
    amount: int | None = Field(None, ge=0, le=10**15)      # minor units (kopecks, cents)
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    close_date: date | None = None
    lost_reason_code: str | None = Field(None, max_length=60)


@routes.patch("/api/v1/leads/{lead_id}")
async def patch_lead(request: web.Request) -> web.Response:
    lead_id, who = _lead_id(request), principal(request)
    body = await read_model(request, LeadPatch)
    given = body.model_dump(exclude_unset=True)
    # Field values and the fields a status needs are checked by the store against the field definitions.
    reasons = request.app[SETTINGS].pipelines.lost_reasons
    if body.lost_reason_code is not None and body.lost_reason_code not in reasons:
        refuse(422, "invalid", f"lost_reason_code is one of {', '.join(reasons)}", "lost_reason_code")
    cleared = frozenset(k for k in ("amount", "currency", "close_date") if k in given and given[k] is None)
    changes = LeadChanges(**given, unassign="assignee_id" in given and body.assignee_id is None, cleared=cleared)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        done = await lead_patch.patch(session, who.viewer, lead_id, changes, request.app[PERMISSIONS],
                                      request.app[CLOCK]())
        waiting = await routing_log.reprioritize_waiting(session, lead_id, done.lead["priority"]) \
            if "priority" in done.diff else None
        return (done, waiting), {"changes": done.diff}

    # The answer's JSON is made here, on the loop: the writer's thread, which every write waits for, only writes.
    done: lead_patch.Patched
    done, waiting = await _audited(request, "lead.update", lead_id, work)
    body, diff = lead_json(done.lead), done.diff
    if waiting is not None:
        try:
            await request.app[ROUTING].set_priority(waiting, body["priority"])
        except RoutingError as exc:
            log.info("task %s left routing before its priority changed: %s", waiting, exc)
    await request.app[NOTIFIER].lead_updated(lead_id, diff, assignee_id=body["assignee_id"], owner_id=body["owner_id"],
                                             changed_by=who.user_id)
    if "stage_id" in diff:     # every open board redraws the two columns
        await request.app[NOTIFIER].lead_moved(lead_id, body["pipeline_id"], diff["stage_id"][0], diff["stage_id"][1],
                                               changed_by=who.user_id)
    if done.open_task is not None:
        # Closed, or handed to someone by hand: routing stops offering it.
        await request.app[ROUTING].task_finished(*done.open_task)
    return json_response(body)


@routes.delete("/api/v1/leads/{lead_id}")
async def delete_lead(request: web.Request) -> web.Response:
    lead_id, who = _lead_id(request), principal(request)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        await leads.delete_lead(session, who.viewer, lead_id, request.app[PERMISSIONS], request.app[CLOCK]())
        return None, {}

    await _audited(request, "lead.delete", lead_id, work)
    await request.app[ROUTING].lead_finished(lead_id)
    return web.Response(status=204)


class NewLead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=320)
    text: str = Field("", max_length=20000)
    subject: str | None = Field(None, max_length=500)


async def _within_reach(request: web.Request,
                        claims: list[IdentityClaim]) -> tuple[list[IdentityClaim], dict[str, str]]:
    """Claims that would bind the lead to another team's client, demoted to mere mentions.

    A phone typed by hand joins that client's open lead, which would hand our text to the other team
    and its lead (and its id) to us. Refusing would lose a real client's request and still confirm
    that the number is known elsewhere. So the lead is ours, on a client record of our own; the
    typed phone or e-mail is kept on the lead, and the store suggests merging the two clients, a
    suggestion only someone who sees both teams (a supervisor) is shown.
    """
    async with request.app[SESSIONS]() as session:
        foreign = await contacts.identities_out_of_reach(session, principal(request).viewer,
                                                         [(c.kind, c.value) for c in claims])
    if not foreign:
        return claims, {}
    kept = [IdentityClaim(c.kind, c.value, Confidence.MENTIONED) if (c.kind, c.value) in foreign else c for c in claims]
    return kept, {kind: value for kind, value in foreign}


@routes.post("/api/v1/leads")
async def add_lead(request: web.Request) -> web.Response:
    """A lead entered by staff (a walk-in, a call on a personal phone); it is theirs."""
    who, body = principal(request), await read_model(request, NewLead)
    region = request.app[SETTINGS].phone.region
    claims: list[IdentityClaim] = []
    try:
        if body.phone:
            claims.append(IdentityClaim("phone", normalize_phone(body.phone, region), Confidence.STATED))
    except InvalidIdentity as exc:
        refuse(422, "invalid", str(exc), "phone")
    try:
        if body.email:
            claims.append(IdentityClaim("email", normalize_email(body.email), Confidence.STATED))
    except InvalidIdentity as exc:
        refuse(422, "invalid", str(exc), "email")
    if not claims and not body.name:
        refuse(422, "required", "give at least a name, a phone or an e-mail", "phone")
    key = request.headers.get("Idempotency-Key", "")[:200] or uuid.uuid4().hex
    claims, typed = await _within_reach(request, claims)
    contact = InboundContact(
        channel="manual", event_id=f"{who.user_id}:{key}", source_id=str(who.user_id),
        received_at=request.app[CLOCK](), name=body.name, text=body.text, subject=body.subject,
        identities=tuple(claims), attributes={"created_by": who.username, **typed},
    )
    accepted = await request.app[INTAKE].emit(contact)
    async with request.app[SESSIONS]() as session, session.begin():
        lead = await leads.assign_if_unassigned(session, accepted.lead_id, who.user_id, request.app[CLOCK]())
        routed_elsewhere = lead.assignee_id != who.user_id
        audit.record(session, "lead.create", request.app[CLOCK](), user_id=who.user_id, lead_id=lead.id,
                     ip=client_ip(request), detail={"duplicate": accepted.duplicate})
        try:
            body_json = lead_json(await leads.get_visible(session, who.viewer, lead.id))
        except StoreError:
            body_json = {"id": lead.id}
    if not routed_elsewhere:
        await request.app[ROUTING].lead_finished(lead.id)   # it is the creator's: nothing to route
    return json_response(body_json, status=200 if accepted.duplicate else 201)
