"""Pure converters between the packages' own types; the only place that knows both sides."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from channels.types import Confidence, IdentityClaim, InboundContact
from crm_store.models import RoutingTask, User
from crm_store.types import Claim, IngestRequest, IngestResult, RoutingHint
from gateway.settings import Settings
from gateway.work_settings import QueueSettings, RoutingSettings
from routing.types import (
    DEFAULT_CAPACITY,
    Agent,
    Escalation,
    Fairness,
    Policy,
    PriorityGate,
    QueueConfig,
    Task,
)
from vocabulary.channels import MANUAL

# Attributes that say where a lead came from; kept on the lead for source-effectiveness reports.
SOURCE_KEYS = ("form", "page", "referrer", "did", "queue", "deep_link", "start_payload", "mailbox", "bot")


def claims_of(contact: InboundContact) -> tuple[Claim, ...]:
    identities = list(contact.identities)
    kinds = {(i.kind, i.value) for i in identities}
    # Adapters that fill only `phone` / `email` still get their identities resolved.
    for kind, value in (("phone", contact.phone), ("email", contact.email)):
        if value and (kind, value) not in kinds:
            identities.append(IdentityClaim(kind, value, Confidence.STATED))
    return tuple(Claim(i.kind, i.value, *_CONFIDENCE[i.confidence]) for i in identities)


# (strong, value) of each confidence: the enum's property and `.value` descriptor cost ~1 us a claim.
_CONFIDENCE = {c: (c.strong, c.value) for c in Confidence}


def primary_kind(contact: InboundContact) -> str | None:
    """The identity the channel itself proves (caller id, mail sender, messenger account)."""
    for identity in contact.identities:
        if identity.confidence is Confidence.VERIFIED:
            return identity.kind
    return None


def source_of(contact: InboundContact) -> dict[str, str]:
    source = {"channel": contact.channel}
    for key, value in contact.attributes.items():
        if key in SOURCE_KEYS or key.startswith("utm_"):
            source[key] = value
    return source


def routing_hint(contact: InboundContact, settings: RoutingSettings) -> RoutingHint | None:
    """Which queue and capacity a new lead from `contact` is routed with; None for staff-entered leads."""
    if contact.channel == MANUAL:
        return None
    queue = contact.attributes.get("queue", "default")
    return RoutingHint(queue=queue if queue in settings.queues else "default",
                       channel=settings.capacity_class.get(contact.channel, "chat"))


def pipeline_of(contact: InboundContact, routing: RoutingSettings, sections: Mapping[str, str] | None = None) -> str | None:
    """The funnel a new lead from `contact` enters: its form's, mailbox's or bot's, else its DID's, else its queue's.

    `sections` maps "form:<key>", "mailbox:<address>" and "channel:<name>" to the pipeline their section names.
    """
    named = sections or {}
    a = contact.attributes
    for key in (f"form:{a.get('form')}", f"mailbox:{str(a.get('mailbox') or '').lower()}", f"channel:{contact.channel}"):
        if key in named:
            return named[key]
    if a.get("did") in routing.did_pipelines:
        return routing.did_pipelines[a["did"]]
    queue = routing.queues.get(a.get("queue") or "default")
    return queue.pipeline if queue is not None else None


def to_ingest_request(contact: InboundContact, attachments: list[dict[str, Any]] | None = None,
                      routing: RoutingHint | None = None, pipeline: str | None = None) -> IngestRequest:
    attributes: dict[str, Any] = {**contact.attributes, "source_id": contact.source_id}
    if attachments:
        attributes["attachments"] = attachments
    return IngestRequest(
        channel=contact.channel,
        event_id=contact.event_id,
        received_at=contact.received_at,
        claims=claims_of(contact),
        primary_kind=primary_kind(contact),
        name=contact.name,
        text=contact.text,
        subject=contact.subject,
        thread_ref=contact.thread_ref,
        attributes=attributes,
        source=source_of(contact),
        priority=contact.priority_hint or 0,
        lead_hint=contact.lead_hint,
        routing=routing,
        pipeline=pipeline,
    )


# -- routing ---------------------------------------------------------------------------------

def agent_of(user: User, settings: RoutingSettings) -> Agent:
    """A user as routing sees them: skills, team, capacity per channel."""
    on_call = {} if settings.chat_capacity_on_call is None else {"chat": settings.chat_capacity_on_call}
    capacity = {k: int(v) for k, v in (user.capacity or {}).items()} or dict(DEFAULT_CAPACITY)
    skills = {k: int(v) for k, v in (user.skills or {}).items()}
    skills[phone_skill(user.id)] = 1      # only this user can take the task of a call on their own phone
    return Agent(id=str(user.id), skills=skills,
                 team=str(user.team_id) if user.team_id is not None else None,
                 capacity=capacity, on_call_capacity=on_call)


def phone_skill(user_id: int) -> str:
    return f"phone:{user_id}"


def queue_config(queue: QueueSettings, user_ids: Mapping[str, int], team_ids: Mapping[str, int]) -> QueueConfig:
    """Queue settings with usernames and team names turned into routing's ids."""
    gate = None
    if queue.vip_min_priority is not None and queue.vip_skill:
        gate = PriorityGate(queue.vip_min_priority, queue.vip_skill, queue.vip_min_level)
    return QueueConfig(
        policy=Policy(queue.policy), broadcast=queue.broadcast, offer_timeout=queue.offer_timeout,
        aging_seconds=queue.aging_seconds, owner_wait_seconds=queue.owner_wait_seconds,
        fairness=Fairness(queue.fairness_max, queue.fairness_period_seconds) if queue.fairness_max else None,
        priority_gate=gate,
        escalation=tuple(Escalation(after, frozenset(str(team_ids[t]) for t in teams if t in team_ids) or None)
                         for after, teams in queue.escalation),
        service_level_seconds=queue.service_level_seconds, wrap_up_seconds=queue.wrap_up_seconds,
        round_pause_seconds=queue.round_pause_seconds,
        fixed_order=tuple(str(user_ids[name]) for name in queue.fixed_order if name in user_ids),
    )


def task_for(result: IngestResult, settings: RoutingSettings, now: float) -> Task:
    """The routing task the store created with `result` (its row is already committed)."""
    assert result.task_id is not None
    return Task(id=result.task_id, channel=result.task_channel or "chat", priority=result.priority,
                queue=result.task_queue or "default",
                owner=str(result.owner_id) if result.owner_id is not None else None, created=now)


def task_of_row(row: RoutingTask) -> Task:
    """A stored task, as it is put back into routing after a restart; it keeps its place in line."""
    return Task(id=row.id, channel=row.channel, priority=row.priority, required_skills=dict(row.skills),
                queue=row.queue, owner=str(row.owner_id) if row.owner_id is not None else None,
                created=row.created_at.timestamp())



def pipeline_sections(settings: Settings) -> dict[str, str]:
    """Which form, mailbox and messenger sections name a pipeline, keyed as `pipeline_of` looks them up."""
    named = {f"form:{key}": form.pipeline for key, form in settings.forms.items() if form.pipeline}
    named.update({f"mailbox:{box.username.lower()}": box.pipeline for box in settings.imap.values() if box.pipeline})
    for name, bot in (("telegram", settings.telegram), ("whatsapp", settings.whatsapp), ("viber", settings.viber)):
        if bot is not None and bot.pipeline:
            named[f"channel:{name}"] = bot.pipeline
    return named
