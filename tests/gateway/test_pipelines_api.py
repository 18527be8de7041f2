"""Funnels through the real server: stage rules refuse naming the field, moves are audited and broadcast, teams hold."""
from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from websockets.asyncio.client import connect

from channels.types import InboundContact
from crm_store.types import Role
from gateway.mapping import pipeline_of, pipeline_sections
from support.gateway_app import make_settings


async def _sales(api, headers):  # type: ignore[no-untyped-def]
    items = (await (await api.client.get("/api/v1/pipelines", headers=headers)).json())["items"]
    sales = next(p for p in items if p["key"] == "sales")
    return sales, {s["status"]: s["id"] for s in sales["stages"]}


async def test_stage_rules_moves_board_and_funnel(api):
    await api.add_user("root", Role.ADMIN)
    boss = await api.login("root")
    sales, by_status = await _sales(api, boss)
    assert [s["kind"] for s in sales["stages"]] == ["open", "open", "open", "won", "lost", "closed"]
    # An admin adds a strict stage before "Won": a proposal needs an amount and a close date.
    added = await api.client.post(f"/api/v1/pipelines/{sales['id']}/stages", headers=boss, json={
        "name": "Proposal", "kind": "open", "position": 3, "required_fields": ["amount", "close_date"],
        "deadline_hours": 48})
    assert added.status == 201, await added.text()
    proposal = (await added.json())["id"]
    order = [s["name"] for s in (await _sales(api, boss))[0]["stages"]]
    assert order.index("Proposal") == 3

    lead = await (await api.client.post("/forms/default", data={"phone": "+79120000001", "name": "Anna"})).json()
    url = f"/api/v1/leads/{lead['lead_id']}"
    created = await (await api.client.get(url, headers=boss)).json()
    assert created["lead"]["stage_id"] == by_status["new"] and created["lead"]["pipeline_id"] == sales["id"]

    token = boss["Authorization"].split()[1]
    refused = await api.client.get(f"/ws?token={token}&watch=moon")
    assert refused.status == 400 and (await refused.json())["error"]["field"] == "watch"
    async with connect(f"ws://127.0.0.1:{api.client.port}/ws?token={token}&watch=board") as ws:
        refused = await api.client.patch(url, json={"stage_id": proposal}, headers=boss)
        error = (await refused.json())["error"]
        assert refused.status == 422 and error["field"] == "amount" and "Proposal" in error["message"]
        refused = await api.client.patch(url, json={"stage_id": proposal, "amount": 150000, "currency": "RUB"},
                                         headers=boss)
        assert (await refused.json())["error"]["field"] == "close_date"
        moved = await api.client.patch(url, headers=boss, json={
            "stage_id": proposal, "amount": 150000, "currency": "RUB", "close_date": "2026-12-31"})
        assert moved.status == 200, await moved.text()
        body = await moved.json()
        assert (body["stage_id"], body["amount"], body["close_date"]) == (proposal, 150000, "2026-12-31")
        async with asyncio.timeout(30):
            while (frame := json.loads(await ws.recv()))["type"] != "lead.moved":
                pass
        assert frame["data"]["to_stage_id"] == proposal and frame["data"]["lead_id"] == lead["lead_id"]

    # The old status API still works and moves the card with it; a lost deal needs a reason.
    lost = await api.client.patch(url, json={"stage_id": by_status["lost"]}, headers=boss)
    assert lost.status == 422 and (await lost.json())["error"]["field"] == "lost_reason"
    bad_code = await api.client.patch(url, json={"stage_id": by_status["lost"], "lost_reason_code": "moon"},
                                      headers=boss)
    assert (await bad_code.json())["error"]["field"] == "lost_reason_code"
    won = await api.client.patch(url, json={"status": "won"}, headers=boss)
    assert (await won.json())["stage_id"] == by_status["won"]

    for kind, due in (("meeting", "next_monday_10"), ("call", "in_1h")):     # the card names the one due first
        made = await api.client.post("/api/v1/tasks", headers=boss, json={"lead_id": lead["lead_id"], "kind": kind,
                                                                         "due": due})
        assert made.status == 201, await made.text()
    board = await (await api.client.get(f"/api/v1/pipelines/{sales['id']}/board", headers=boss)).json()
    column = next(c for c in board["columns"] if c["stage"]["id"] == by_status["won"])
    assert column["count"] == 1 and column["amounts"] == {"RUB": 150000}
    assert column["cards"][0]["client"] == "Anna"
    assert column["cards"][0]["next_task"]["kind"] == "call" and not column["cards"][0]["next_task"]["overdue"]
    report = await (await api.client.get(f"/api/v1/reports/funnel?pipeline={sales['id']}&by=source",
                                         headers=boss)).json()
    entered = {s["name"]: s["entered"] for s in report["stages"]}
    assert (entered["New"], entered["Proposal"], entered["Won"], entered["Lost"]) == (1, 1, 1, 0)
    assert report["conversion"] == 1.0 and report["won_amounts"] == {"RUB": 150000}
    assert report["groups"][0]["key"] == "form"
    bad = await api.client.get("/api/v1/reports/funnel?pipeline=x", headers=boss)
    assert bad.status == 422 and (await bad.json())["error"]["field"] == "pipeline"

    async def audited(query):  # type: ignore[no-untyped-def]
        items = (await (await api.client.get(f"/api/v1/audit{query}", headers=boss)).json())["items"]
        return [(e["action"], e["outcome"]) for e in items]

    on_lead = await audited(f"?lead_id={lead['lead_id']}")
    every = [action for action, _ in await audited("")]
    assert on_lead.count(("lead.update", "ok")) >= 2 and "stage.create" in every and "board.read" in every

async def test_stage_admin_is_for_admins_and_retiring_keeps_history(api):
    await api.add_user("root", Role.ADMIN)
    await api.add_user("mia", Role.MANAGER)
    root, mia = await api.login("root"), await api.login("mia")
    made = await api.client.post("/api/v1/pipelines", headers=root, json={"key": "wholesale", "name": "Wholesale"})
    assert made.status == 201, await made.text()
    wholesale = await made.json()
    assert [s["kind"] for s in wholesale["stages"]] == ["open", "won", "lost", "closed"]
    assert (await api.client.post("/api/v1/pipelines", headers=mia, json={"key": "x", "name": "X"})).status == 403
    again = await api.client.post("/api/v1/pipelines", headers=root, json={"key": "wholesale", "name": "W"})
    assert again.status == 409 and (await again.json())["error"]["field"] == "key"
    extra = await (await api.client.post(f"/api/v1/pipelines/{wholesale['id']}/stages", headers=root,
                                         json={"name": "Samples"})).json()
    lead = await (await api.client.post("/api/v1/leads", json={"name": "Bob"}, headers=mia)).json()
    moved = await api.client.patch(f"/api/v1/leads/{lead['id']}", headers=mia, json={"stage_id": extra["id"]})
    assert moved.status == 200 and (await moved.json())["pipeline_id"] == wholesale["id"]
    stage_url = f"/api/v1/pipelines/{wholesale['id']}/stages/{extra['id']}"
    busy = await api.client.patch(stage_url, headers=root, json={"retired": True})
    assert busy.status == 409 and (await busy.json())["error"]["field"] == "retired"
    back = await api.client.patch(f"/api/v1/leads/{lead['id']}", headers=mia,
                                  json={"stage_id": wholesale["stages"][0]["id"]})
    assert back.status == 200
    assert (await api.client.patch(stage_url, headers=root, json={"retired": True, "name": "Old"})).status == 200
    listed = (await (await api.client.get("/api/v1/pipelines?retired=1", headers=mia)).json())["items"]
    assert any(s["name"] == "Old" and s["retired"] for p in listed for s in p["stages"])
    refused = await api.client.patch(f"/api/v1/leads/{lead['id']}", headers=mia, json={"stage_id": extra["id"]})
    assert refused.status == 422 and (await refused.json())["error"]["field"] == "stage_id"
    report = await (await api.client.get(f"/api/v1/reports/funnel?pipeline={wholesale['id']}",
                                         headers=root)).json()
    assert {s["name"]: s["entered"] for s in report["stages"]}["Old"] == 1   # the history keeps the retired stage


async def test_the_board_shows_only_what_the_team_may_see(api):
    await api.add_user("sam", Role.MANAGER, team="sales")
    await api.add_user("sue", Role.MANAGER, team="support")
    sam, sue = await api.login("sam"), await api.login("sue")
    await api.client.post("/api/v1/leads", json={"name": "Sam's client"}, headers=sam)
    pipeline = (await (await api.client.get("/api/v1/pipelines", headers=sue)).json())["items"][0]["id"]

    async def cards(headers):  # type: ignore[no-untyped-def]
        board = await (await api.client.get(f"/api/v1/pipelines/{pipeline}/board", headers=headers)).json()
        return [c["client"] for col in board["columns"] for c in col["cards"]], sum(c["count"] for c in board["columns"])

    assert await cards(sam) == (["Sam's client"], 1)
    assert await cards(sue) == ([], 0)

    async def entered(headers):  # type: ignore[no-untyped-def]
        report = await (await api.client.get(f"/api/v1/reports/funnel?pipeline={pipeline}", headers=headers)).json()
        return report["leads"]

    assert (await entered(sam), await entered(sue)) == (1, 0)      # the funnel report: the team's leads only
    bad = await api.client.get(f"/api/v1/pipelines/{pipeline}/board?owner=someone", headers=sue)
    assert bad.status == 422 and (await bad.json())["error"]["field"] == "owner"


def _contact(channel: str, **attributes: str) -> InboundContact:
    return InboundContact(channel=channel, event_id="e1", source_id="s1", received_at=datetime(2026, 12, 1, tzinfo=UTC),
                          attributes=attributes)


def test_which_funnel_a_new_lead_enters_form_mailbox_bot_then_did_then_queue() -> None:
    settings = make_settings("sqlite+aiosqlite://", **{
        "forms": {"wholesale": {"pipeline": "wholesale"}},
        "imap": {"support": {"host": "127.0.0.1", "username": "Help@Example.com", "password": "x",
                             "pipeline": "support"}},
        "whatsapp": {"verify_token": "v", "app_secret": "s", "access_token": "a", "phone_number_id": "1",
                     "pipeline": "chats"},
        "routing": {"did_pipelines": {"+74950000001": "wholesale"},
                    "queues": {"default": {}, "service": {"pipeline": "support"}}}})
    sections = pipeline_sections(settings)
    cases = [
        (_contact("form", form="wholesale"), "wholesale"),
        (_contact("email", mailbox="help@example.com"), "support"),
        (_contact("whatsapp"), "chats"),
        (_contact("viber"), None),                                   # no section names one: the first
        (_contact("voice", did="+74950000001", queue="service"), "wholesale"),   # the DID before the queue
        (_contact("voice", did="+74950000002", queue="service"), "support"),
        (_contact("voice", did="+74950000002"), None),
    ]
    assert [pipeline_of(c, settings.routing, sections) for c, _ in cases] == [want for _, want in cases]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"forms": {"default": {}, "wholesale": {"pipeline": "wholesale"}, "nowhere": {"pipeline": "missing"}}}


async def test_a_forms_leads_enter_its_funnel_and_a_lead_moves_between_funnels(api):
    await api.add_user("root", Role.ADMIN)
    boss = await api.login("root")
    made = await api.client.post("/api/v1/pipelines", headers=boss, json={"key": "wholesale", "name": "Wholesale"})
    assert made.status == 201, await made.text()
    wholesale = (await made.json())["id"]
    sales, _ = await _sales(api, boss)

    async def pipeline_of_post(form: str, phone: str) -> tuple[int, int]:
        lead = await (await api.client.post(f"/forms/{form}", data={"phone": phone, "name": "Ivan"})).json()
        body = (await (await api.client.get(f"/api/v1/leads/{lead['lead_id']}", headers=boss)).json())["lead"]
        return lead["lead_id"], body["pipeline_id"]

    lead, pipeline = await pipeline_of_post("wholesale", "+79120000011")
    assert pipeline == wholesale
    assert (await pipeline_of_post("default", "+79120000012"))[1] == sales["id"]
    assert (await pipeline_of_post("nowhere", "+79120000013"))[1] == sales["id"]      # an unknown key: the first
    moved = await api.client.patch(f"/api/v1/leads/{lead}", headers=boss, json={"pipeline_id": sales["id"]})
    assert moved.status == 200, await moved.text()
    assert (await moved.json())["pipeline_id"] == sales["id"]
