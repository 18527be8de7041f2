"""The client at a glance (a card's `summary`): what a pop and an offer show, and only within the team's reach."""
from __future__ import annotations

import uuid
from typing import Any

from crm_store import leads
from crm_store.ingest import utcnow
from crm_store.types import Claim, IngestRequest, IngestResult, Role
from gateway.keys import INGESTOR, SESSIONS
from gateway.routing.cards import card_of_task
from support.gateway_app import Api

PHONE = "+79161234567"


async def _contact(api: Api, channel: str, text: str, **source: str) -> IngestResult:
    request = IngestRequest(channel=channel, event_id=uuid.uuid4().hex, received_at=utcnow(), text=text,
                            claims=(Claim("phone", PHONE, True, "stated"),), primary_kind="phone",
                            name="Анна Смирнова", source={"channel": channel, **source})
    return await api.client.app[INGESTOR].ingest(request)


async def _assign(api: Api, lead_id: int, user_id: int) -> None:
    async with api.client.app[SESSIONS]() as session, session.begin():
        await leads.assign(session, lead_id, user_id, utcnow())


async def _ok(response: Any, status: int = 200) -> Any:
    assert response.status == status, await response.text()
    return await response.json()


async def test_the_summary_says_who_calls_and_shows_nothing_of_another_team(api: Api) -> None:
    sam = await api.add_user("sam", Role.MANAGER, team="sales", display_name="Sam Sales")
    sue = await api.add_user("sue", Role.MANAGER, team="support", display_name="Sue Support")
    await api.add_user("sid", Role.OPERATOR, team="support")
    as_sam, as_sue, as_sid = await api.login("sam"), await api.login("sue"), await api.login("sid")

    # The client's support ticket: another team's lead, with its own text and task; finished for now, so that
    # the next contact opens a lead of its own, then reopened.
    ticket = await _contact(api, "email", "my printer is broken")
    await _assign(api, ticket.lead_id, sue)
    await _ok(await api.client.patch(f"/api/v1/leads/{ticket.lead_id}", json={"status": "won"}, headers=as_sue))
    deal = await _contact(api, "form", "I want the big plan", utm_campaign="winter", did="")
    assert deal.lead_id != ticket.lead_id and deal.contact_id == ticket.contact_id
    await _ok(await api.client.patch(f"/api/v1/leads/{ticket.lead_id}", json={"status": "in_progress"},
                                     headers=as_sue))
    await _ok(await api.client.post("/api/v1/tasks", json={"lead_id": ticket.lead_id, "kind": "email",
                                                            "due": "in_1h", "note": "printer"}, headers=as_sue), 201)
    await _assign(api, deal.lead_id, sam)
    await _ok(await api.client.patch(f"/api/v1/leads/{deal.lead_id}", json={"amount": 1250000, "currency": "RUB"},
                                     headers=as_sam))
    company = await _ok(await api.client.post("/api/v1/companies", json={"name": "ООО «Ромашка»"}, headers=as_sam),
                        201)
    await _ok(await api.client.put(f"/api/v1/contacts/{deal.contact_id}/companies/{company['id']}", json={},
                                   headers=as_sam), 201)
    await _ok(await api.client.post("/api/v1/tasks", json={"lead_id": deal.lead_id, "kind": "call", "due": "in_1h",
                                                            "note": "send the offer"}, headers=as_sam), 201)

    card = await _ok(await api.client.get(f"/api/v1/leads/{deal.lead_id}", headers=as_sam))
    summary = card["summary"]
    assert summary["name"] == "Анна Смирнова" and summary["phone"] == PHONE and summary["known"] is True
    assert summary["companies"] == ["ООО «Ромашка»"]
    # The client is pinned to whoever took them first (a name, as on every card); the deal is Sam's.
    assert summary["owner"] == {"id": sue, "display_name": "Sue Support"}
    assert summary["assignee"] == {"id": sam, "display_name": "Sam Sales"}
    assert summary["source"] == {"utm_campaign": "winter"} and summary["channel"] == "form"
    assert [(d["id"], d["amount"], d["currency"], d["current"]) for d in summary["deals"]] == \
        [(deal.lead_id, 1250000, "RUB", True)]
    assert summary["deals"][0]["stage"]      # the funnel's first stage, by name
    assert [(r["channel"], r["text"]) for r in summary["recent"]] == [("form", "I want the big plan")]
    assert [t["note"] for t in summary["tasks"]] == ["send the offer"]
    assert "printer" not in str(summary)

    # A pop is read on routing's behalf: it shows what the popped lead's team may see, nothing of support's.
    async with api.client.app[SESSIONS]() as session:
        pop = await card_of_task(session, f"lead:{deal.lead_id}:{deal.interaction_id}")
    assert pop is not None
    assert [d["id"] for d in pop["summary"]["deals"]] == [deal.lead_id]
    assert "printer" not in str(pop["summary"]) and pop["summary"]["companies"] == ["ООО «Ромашка»"]

    # Sue owns the client, so she sees the deal too; her colleague sees the support side only.
    theirs = (await _ok(await api.client.get(f"/api/v1/leads/{ticket.lead_id}", headers=as_sid)))["summary"]
    assert [d["id"] for d in theirs["deals"]] == [ticket.lead_id] and "big plan" not in str(theirs)
    assert [t["note"] for t in theirs["tasks"]] == ["printer"] and theirs["companies"] == []


async def test_a_first_time_caller_is_a_new_client(api: Api) -> None:
    await api.add_user("boss", Role.SUPERVISOR)
    first = await _contact(api, "voice", "", did="+74950001122", queue="sales")
    summary = (await _ok(await api.client.get(f"/api/v1/leads/{first.lead_id}", headers=await api.login("boss"))))[
        "summary"]
    assert summary["known"] is False and summary["owner"] is None and summary["companies"] == []
    assert summary["source"] == {"did": "+74950001122", "queue": "sales"}
    assert [d["id"] for d in summary["deals"]] == [first.lead_id] and summary["tasks"] == []
