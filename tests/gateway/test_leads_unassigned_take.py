"""Work nobody has taken: visible to operators and managers, taken by one person only, on both backends."""
from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from crm_store.models import AuditEntry, Lead, RoutingTask
from crm_store.types import Role
from gateway.keys import SESSIONS
from support.screens import screen


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def routing_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def settings_overrides(routing_backend: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    sections: dict[str, Any] = {
        "routing": {"queues": {"default": {"owner_wait_seconds": 0, "aging_seconds": None}}},
        "forms": {"busy": {"rate_per_minute": 100000, "burst": 1000}},
        "leads": {"fields": {"temperature": {"label": "How hot", "choices": ["hot", "warm", "cold"]},
                             "city": {"label": "City", "required_at": ["in_progress"]}}},
    }
    if routing_backend == "redis":
        sections["redis"] = {"url": request.getfixturevalue("redis_url"), "prefix": f"t{uuid.uuid4().hex}:"}
    return sections


async def post_form(api, phone: str) -> int:  # type: ignore[no-untyped-def]
    response = await api.client.post("/forms/busy", data={"phone": phone, "name": "Client"})
    assert response.status == 201, await response.text()
    return (await response.json())["lead_id"]


async def _get(api, url: str, headers) -> Any:  # type: ignore[no-untyped-def]
    response = await api.client.get(url, headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_unassigned_work_is_listed_counted_and_taken_by_exactly_one(api):
    olga = await api.add_user("olga", Role.OPERATOR)
    await api.add_user("petr", Role.MANAGER)
    await api.add_user("boss", Role.SUPERVISOR)
    heads = {name: await api.login(name) for name in ("olga", "petr", "boss")}
    lead_id = await post_form(api, "+79123456789")        # nobody is available: it waits
    for name in ("olga", "petr", "boss"):
        listed = await _get(api, "/api/v1/leads?view=unassigned", heads[name])
        assert [x["id"] for x in listed["items"]] == [lead_id], name
        everyone = {"all": 1} if name == "boss" else {}      # supervisors' third tab: every open lead
        assert await _get(api, "/api/v1/leads/counts", heads[name]) == {"mine": 0, "unassigned": 1, **everyone}
    async with screen(api, "olga", available=False) as olga_screen:
        answers = await asyncio.gather(*(api.client.post(f"/api/v1/leads/{lead_id}/take", headers=heads[name])
                                         for name in ("olga", "petr")))
        statuses = sorted(a.status for a in answers)
        assert statuses == [200, 409], [await a.text() for a in answers]
        refused = next(a for a in answers if a.status == 409)
        assert (await refused.json())["error"] == {
            "code": "conflict", "field": "lead_id", "message": f"lead {lead_id} was already taken by someone else"}
        winner = (await next(a for a in answers if a.status == 200).json())["assignee_id"]
        if winner == olga:
            assigned = await olga_screen.expect("lead.assigned")
            assert assigned["lead_id"] == lead_id
    async with api.client.app[SESSIONS]() as session:
        lead = await session.get(Lead, lead_id)
        task = await session.scalar(select(RoutingTask).where(RoutingTask.lead_id == lead_id))
    assert (lead.assignee_id, lead.status, lead.owner_id) == (winner, "assigned", winner)
    assert (task.state, task.assignee_id) == ("assigned", winner)
    winner_name = "olga" if winner == olga else "petr"
    assert await _get(api, "/api/v1/leads/counts", heads[winner_name]) == {"mine": 1, "unassigned": 0}
    assert (await _get(api, "/api/v1/leads?view=unassigned", heads["boss"]))["items"] == []
    again = await api.client.post(f"/api/v1/leads/{lead_id}/take", headers=heads["boss"])
    assert again.status == 409


async def test_a_lead_with_no_routing_task_is_taken_once_through_the_store(api):
    await api.add_user("olga", Role.OPERATOR)
    await api.add_user("petr", Role.OPERATOR)
    await api.add_user("boss", Role.SUPERVISOR)
    heads = {name: await api.login(name) for name in ("olga", "petr", "boss")}
    lead_id = await post_form(api, "+79123456789")
    took = await api.client.post(f"/api/v1/leads/{lead_id}/take", headers=heads["boss"])
    assert took.status == 200
    # Unassigned by hand: routing no longer holds a task for it, only the store knows it waits.
    freed = await api.client.patch(f"/api/v1/leads/{lead_id}", json={"assignee_id": None}, headers=heads["boss"])
    assert freed.status == 200 and (await freed.json())["assignee_id"] is None
    answers = await asyncio.gather(*(api.client.post(f"/api/v1/leads/{lead_id}/take", headers=heads[name])
                                     for name in ("olga", "petr")))
    assert sorted(a.status for a in answers) == [200, 409]
    async with api.client.app[SESSIONS]() as session:
        takes = list(await session.scalars(select(AuditEntry.user_id).where(
            AuditEntry.lead_id == lead_id, AuditEntry.action == "lead.take")))
    assert len(takes) >= 3


async def test_an_operator_does_not_see_another_teams_waiting_work(api):
    from crm_store.models import Team
    await api.add_user("olga", Role.OPERATOR, team="sales")
    await api.add_user("ivan", Role.OPERATOR, team="support")
    async with api.client.app[SESSIONS]() as session:
        sales = await session.scalar(select(Team).where(Team.name == "sales"))
    heads = {name: await api.login(name) for name in ("olga", "ivan")}
    lead_id = await post_form(api, "+79123456789")
    async with api.client.app[SESSIONS]() as session, session.begin():
        (await session.get(Lead, lead_id)).team_id = sales.id
    assert [x["id"] for x in (await _get(api, "/api/v1/leads?view=unassigned", heads["olga"]))["items"]] == [lead_id]
    assert (await _get(api, "/api/v1/leads?view=unassigned", heads["ivan"]))["items"] == []
    refused = await api.client.post(f"/api/v1/leads/{lead_id}/take", headers=heads["ivan"])
    assert refused.status == 403
    bad = await api.client.get("/api/v1/leads?view=everything", headers=heads["olga"])
    assert bad.status == 422 and (await bad.json())["error"]["field"] == "view"


async def test_a_priority_change_reorders_the_waiting_task(api):
    await api.add_user("olga", Role.MANAGER)
    await api.add_user("boss", Role.SUPERVISOR)
    boss = await api.login("boss")
    first = await post_form(api, "+79123456781")
    second = await post_form(api, "+79123456782")
    raised = await api.client.patch(f"/api/v1/leads/{second}", json={"priority": 5}, headers=boss)
    assert raised.status == 200 and (await raised.json())["priority"] == 5
    async with api.client.app[SESSIONS]() as session:
        task = await session.scalar(select(RoutingTask).where(RoutingTask.lead_id == second))
    assert task.priority == 5          # kept for a restart too
    async with screen(api, "olga") as olga:
        offer = await olga.expect("offer.created")
    assert offer["lead_id"] == second and first != second


async def test_choice_and_required_fields_are_enforced_by_the_server(api):
    await api.add_user("boss", Role.SUPERVISOR)
    boss = await api.login("boss")
    lead_id = await post_form(api, "+79123456789")
    url = f"/api/v1/leads/{lead_id}"
    wrong = await api.client.patch(url, json={"fields": {"temperature": "boiling"}}, headers=boss)
    assert wrong.status == 422 and (await wrong.json())["error"]["field"] == "fields.temperature"
    assert "hot, warm, cold" in (await wrong.json())["error"]["message"]
    right = await api.client.patch(url, json={"fields": {"temperature": "warm"}}, headers=boss)
    assert right.status == 200
    early = await api.client.patch(url, json={"status": "in_progress"}, headers=boss)
    assert early.status == 422 and (await early.json())["error"]["field"] == "city"
    filled = await api.client.patch(url, json={"fields": {"city": "Ереван"}, "status": "in_progress"}, headers=boss)
    assert filled.status == 200 and (await filled.json())["status"] == "in_progress"
