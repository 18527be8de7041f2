"""Store rows as the JSON the API and the screens show; built in one place."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from crm_store.lead_cards import card_summary
from crm_store.leads import Card
from crm_store.models import Contact, Identity, Interaction, Lead, MergeSuggestion, User
from gateway.wire_json import dumps, iso


def shown(row: Any, names: tuple[str, ...], every: frozenset[str]) -> dict[str, Any]:
    """`{name: row.name}` in the order of `names` (`every` the same names as a set), read the cheap way.

    A card's rows come as ORM objects (the API), Core rows (routing's cards, `crm_store.batch_cards`) or a
    dict of columns (a PATCH's answer), and a lead's answer names 26 columns: through the attribute a
    Core row's cost ~0.4 us each and an ORM object's ~0.25 us (its descriptor), through their mapping ~0.05.
    An ORM object's instance dict holds exactly what its loaded attributes return; one not loaded is read
    by attribute, as before."""
    if isinstance(row, dict):
        return {name: row[name] for name in names}
    values: Mapping[str, Any] | None = getattr(row, "_mapping", None)     # a Core row (its mapping view)
    if values is not None:
        return {name: values[name] for name in names}
    loaded = getattr(row, "__dict__", None)
    if loaded is not None and loaded.keys() >= every:
        return {name: loaded[name] for name in names}
    return {name: getattr(row, name) for name in names}


def _isos(out: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    for name in names:
        value = out[name]
        if value:
            out[name] = iso(value)
    return out


_LEAD = ("id", "contact_id", "status", "priority", "channel", "source", "attributes", "subject", "notes", "owner_id",
         "assignee_id", "team_id", "outcome", "lost_reason", "handed_over_to", "created_at", "updated_at",
         "last_activity_at", "closed_at", "pipeline_id", "stage_id", "stage_entered_at", "amount", "currency",
         "close_date", "lost_reason_code")
_LEAD_TIMES = ("created_at", "updated_at", "last_activity_at", "closed_at", "stage_entered_at", "close_date")
_IDENTITY = ("id", "kind", "value", "confidence")
_INTERACTION = ("id", "channel", "direction", "text", "subject", "attributes", "author_id", "delivery",
                "contact_id", "created_at")
_SETS = {names: frozenset(names) for names in (_LEAD, _IDENTITY, _INTERACTION)}


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id, "username": user.username, "display_name": user.display_name, "role": user.role,
        "extension": user.extension, "skills": user.skills, "capacity": user.capacity, "team_id": user.team_id,
        "locale": user.locale, "active": user.active, "time_zone": user.time_zone, "remind_via": user.remind_via,
        "must_change_password": user.must_change_password,
    }


def lead_json(lead: Lead) -> dict[str, Any]:
    """Every column the API and the screens show of a lead, its times as ISO 8601 (None stays None)."""
    return _isos(shown(lead, _LEAD, _SETS[_LEAD]), _LEAD_TIMES)


def identity_json(identity: Identity) -> dict[str, Any]:
    return shown(identity, _IDENTITY, _SETS[_IDENTITY])


def contact_json(contact: Contact, identities: list[Identity]) -> dict[str, Any]:
    return {"id": contact.id, "display_name": contact.display_name, "owner_id": contact.owner_id,
            "identities": [identity_json(i) for i in identities]}


def interaction_json(item: Interaction) -> dict[str, Any]:
    out = shown(item, _INTERACTION, _SETS[_INTERACTION])
    out["at"] = iso(out.pop("created_at"))       # shown as "at", last
    return out


def suggestion_json(s: MergeSuggestion) -> dict[str, Any]:
    return {"id": s.id, "contact_ids": [s.contact_a_id, s.contact_b_id], "reason": s.reason, "status": s.status,
            "created_at": iso(s.created_at)}


def card_json(card: Card) -> dict[str, Any]:
    def person(user_id: int | None) -> dict[str, Any] | None:
        user = card.users.get(user_id) if user_id is not None else None
        return {"id": user.id, "display_name": user.display_name} if user else None

    lead = lead_json(card.lead)
    return {
        "lead": lead,
        "contact": contact_json(card.contact, card.identities),
        "owner": person(lead["owner_id"] or card.contact.owner_id),
        "assignee": person(lead["assignee_id"]),
        "timeline": [interaction_json(i) for i in card.timeline],
        "other_open_leads": [lead_json(lead) for lead in card.other_open_leads],
        "earlier_leads": [lead_json(lead) for lead in card.earlier_leads],
        "merge_suggestions": [suggestion_json(s) for s in card.merge_suggestions],
        "summary": card_summary(card),
    }


def json_response(data: Any, status: int = 200) -> web.Response:
    """`web.json_response`, encoded by `gateway.wire_json.dumps` (the same Content-Type, charset utf-8)."""
    return web.Response(body=dumps(data), status=status, content_type="application/json", charset="utf-8")
