"""Store rows as the JSON the API and the screens show; built in one place."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from crm_store.lead_cards import card_summary
from crm_store.leads import Card
from crm_store.models import Contact, Identity, Interaction, Lead, MergeSuggestion, User


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id, "username": user.username, "display_name": user.display_name, "role": user.role,
        "extension": user.extension, "skills": user.skills, "capacity": user.capacity, "team_id": user.team_id,
        "locale": user.locale, "active": user.active, "time_zone": user.time_zone, "remind_via": user.remind_via,
        "must_change_password": user.must_change_password,
    }


def lead_json(lead: Lead) -> dict[str, Any]:
    return {
        "id": lead.id, "contact_id": lead.contact_id, "status": lead.status, "priority": lead.priority,
        "channel": lead.channel, "source": lead.source, "attributes": lead.attributes, "subject": lead.subject,
        "notes": lead.notes, "owner_id": lead.owner_id, "assignee_id": lead.assignee_id, "team_id": lead.team_id,
        "outcome": lead.outcome, "lost_reason": lead.lost_reason, "handed_over_to": lead.handed_over_to,
        "created_at": iso(lead.created_at), "updated_at": iso(lead.updated_at),
        "last_activity_at": iso(lead.last_activity_at), "closed_at": iso(lead.closed_at),
        "pipeline_id": lead.pipeline_id, "stage_id": lead.stage_id, "stage_entered_at": iso(lead.stage_entered_at),
        "amount": lead.amount, "currency": lead.currency,
        "close_date": lead.close_date.isoformat() if lead.close_date else None, "lost_reason_code": lead.lost_reason_code,
    }


def identity_json(identity: Identity) -> dict[str, Any]:
    return {"id": identity.id, "kind": identity.kind, "value": identity.value, "confidence": identity.confidence}


def contact_json(contact: Contact, identities: list[Identity]) -> dict[str, Any]:
    return {"id": contact.id, "display_name": contact.display_name, "owner_id": contact.owner_id,
            "identities": [identity_json(i) for i in identities]}


def interaction_json(item: Interaction) -> dict[str, Any]:
    return {
        "id": item.id, "channel": item.channel, "direction": item.direction, "text": item.text,
        "subject": item.subject, "attributes": item.attributes, "author_id": item.author_id,
        "delivery": item.delivery, "contact_id": item.contact_id, "at": iso(item.created_at),
    }


def suggestion_json(s: MergeSuggestion) -> dict[str, Any]:
    return {"id": s.id, "contact_ids": [s.contact_a_id, s.contact_b_id], "reason": s.reason, "status": s.status,
            "created_at": iso(s.created_at)}


def card_json(card: Card) -> dict[str, Any]:
    def person(user_id: int | None) -> dict[str, Any] | None:
        user = card.users.get(user_id) if user_id is not None else None
        return {"id": user.id, "display_name": user.display_name} if user else None

    return {
        "lead": lead_json(card.lead),
        "contact": contact_json(card.contact, card.identities),
        "owner": person(card.lead.owner_id or card.contact.owner_id),
        "assignee": person(card.lead.assignee_id),
        "timeline": [interaction_json(i) for i in card.timeline],
        "other_open_leads": [lead_json(lead) for lead in card.other_open_leads],
        "earlier_leads": [lead_json(lead) for lead in card.earlier_leads],
        "merge_suggestions": [suggestion_json(s) for s in card.merge_suggestions],
        "summary": card_summary(card),
    }
