"""The client's page, companies and custom fields as the API shows them.

The lead list has one small function (`client_lead_json`) so that columns the funnel adds (stage,
amount) go in one place.
"""
from __future__ import annotations

from typing import Any

from crm_store.clients import ClientPage
from crm_store.companies import CompanyPage
from crm_store.models import Company, Directory, DirectoryValue, FieldDefinition, Interaction, Lead, User
from gateway.api.serialize import identity_json, interaction_json, iso

RECORDING_URL = "/api/v1/calls/{id}/recording"


def person(user: User | None) -> dict[str, Any] | None:
    return {"id": user.id, "display_name": user.display_name} if user else None


def client_lead_json(lead: Lead, users: dict[int, User]) -> dict[str, Any]:
    """One line of the client's lead list."""
    return {"id": lead.id, "status": lead.status, "outcome": lead.outcome, "lost_reason": lead.lost_reason,
            "channel": lead.channel, "subject": lead.subject, "company_id": lead.company_id,
            "owner": person(users.get(lead.owner_id or 0)), "assignee": person(users.get(lead.assignee_id or 0)),
            "fields": lead.attributes.get("fields") or {}, "created_at": iso(lead.created_at),
            "closed_at": iso(lead.closed_at), "last_activity_at": iso(lead.last_activity_at)}


def company_json(company: Company, users: dict[int, User] | None = None) -> dict[str, Any]:
    return {"id": company.id, "name": company.name, "tax_id": company.tax_id, "addresses": company.addresses,
            "phones": company.phones, "emails": company.emails, "fields": company.custom or {},
            "owner": person((users or {}).get(company.owner_id or 0)), "team_id": company.team_id,
            "created_at": iso(company.created_at), "updated_at": iso(company.updated_at)}


def company_page_json(page: CompanyPage, users: dict[int, User]) -> dict[str, Any]:
    return {**company_json(page.company, users),
            "contacts": [{"id": c.id, "display_name": c.display_name, "position": position}
                         for c, position in page.contacts],
            "leads": [client_lead_json(lead, users) for lead in page.leads]}


def client_page_json(page: ClientPage) -> dict[str, Any]:
    contact = page.contact
    return {
        "id": contact.id, "display_name": contact.display_name, "merged_into_id": contact.merged_into_id,
        "owner": person(page.users.get(contact.owner_id or 0)), "tags": list(contact.tags or []),
        "fields": contact.custom or {}, "identities": [identity_json(i) for i in page.identities],
        "companies": [{"id": c.id, "name": c.name, "tax_id": c.tax_id, "position": position}
                      for c, position in page.companies],
        "leads": [client_lead_json(lead, page.users) for lead in page.leads],
        "created_at": iso(contact.created_at), "updated_at": iso(contact.updated_at),
    }


def call_json(item: Interaction, by_id: dict[int, User], by_extension: dict[str, User]) -> dict[str, Any]:
    """What the timeline says of a call: who rang whom, who answered, how long, how it ended, its recording."""
    a = item.attributes or {}
    inbound = a.get("direction", item.direction) == "inbound"
    operator = by_extension.get(a.get("extension") or "") if not inbound else None
    answered = by_id.get(a["answered_by"]) if isinstance(a.get("answered_by"), int) else None
    answered = answered or by_extension.get(a.get("answered_extension") or "")
    client = {"kind": "client", "name": a.get("caller_name") if inbound else None}
    staff = lambda user: {"kind": "user", "id": user.id, "name": user.display_name} if user else None  # noqa: E731
    reached = a.get("outcome") == "answered"
    return {
        "direction": "inbound" if inbound else "outbound",
        "rang": client if inbound else staff(operator) or {"kind": "user", "name": a.get("extension")},
        "answered": staff(answered) if inbound else (client if reached else None),
        "wait_seconds": a.get("wait_seconds"), "talk_seconds": a.get("talk_seconds"),
        "outcome": a.get("outcome"), "status": a.get("status"),
        "recording_url": RECORDING_URL.format(id=item.id) if a.get("recording") else None,
    }


def timeline_json(items: list[Interaction], by_id: dict[int, User], by_extension: dict[str, User]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        entry = {**interaction_json(item), "lead_id": item.lead_id}
        if item.channel == "voice":
            entry["call"] = call_json(item, by_id, by_extension)
        out.append(entry)
    return out


def field_json(d: FieldDefinition) -> dict[str, Any]:
    return {"id": d.id, "entity": d.entity, "name": d.name, "label": d.label, "label_ru": d.label_ru, "kind": d.kind,
            "choices": list(d.choices or ()), "directory_id": d.directory_id, "currency": d.currency,
            "required": d.required, "required_at": list(d.required_at or ()), "position": d.position,
            "active": d.active}


def directory_json(d: Directory, values: list[DirectoryValue]) -> dict[str, Any]:
    return {"id": d.id, "name": d.name, "label": d.label, "label_ru": d.label_ru,
            "values": [{"id": v.id, "value": v.value, "active": v.active} for v in values]}
