"""The work list: lines that read (stage, next task, last call, waiting), cursor pages, the tabs' counts."""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from crm_store import leads
from crm_store.ingest import utcnow
from crm_store.types import Claim, IngestRequest, IngestResult, Role
from gateway.keys import INGESTOR, SESSIONS
from support.gateway_app import Api


async def _contact(api: Api, n: int, channel: str = "form", **attributes: Any) -> IngestResult:
    request = IngestRequest(channel=channel, event_id=uuid.uuid4().hex, received_at=utcnow(), text=f"hello {n}",
                            claims=(Claim("phone", f"+7916555{n:04d}", True, "stated"),), primary_kind="phone",
                            name=f"Client {n}", attributes=attributes)
    return await api.client.app[INGESTOR].ingest(request)


async def _ok(response: Any, status: int = 200) -> Any:
    assert response.status == status, await response.text()
    return await response.json()


async def test_pages_follow_each_other_without_gaps_or_repeats(api: Api) -> None:
    await api.add_user("boss", Role.SUPERVISOR)
    as_boss = await api.login("boss")
    made = [(await _contact(api, n)).lead_id for n in range(7)]
    whole = await _ok(await api.client.get("/api/v1/leads?limit=200", headers=as_boss))
    assert sorted(x["id"] for x in whole["items"]) == sorted(made) and whole["next"] is None

    seen, before, pages = [], None, 0
    while pages < 10:
        query = {"limit": "3", **({"before": before} if before else {})}
        page = await _ok(await api.client.get("/api/v1/leads", params=query, headers=as_boss))
        seen += [x["id"] for x in page["items"]]
        pages += 1
        before = page["next"]
        if before is None:
            break
    assert seen == [x["id"] for x in whole["items"]] and pages == 3

    for bad in ("yesterday,1", "2026-01-01T00:00:00,1", "2026-01-01T00:00:00+00:00,x"):
        refused = await api.client.get("/api/v1/leads", params={"before": bad}, headers=as_boss)
        assert refused.status == 422 and (await refused.json())["error"]["field"] == "before"
    searched = await api.client.get("/api/v1/leads", params={"q": "Client", "before": whole["items"][0]["id"]},
                                    headers=as_boss)
    assert searched.status == 422


async def test_lines_say_stage_next_task_last_call_and_who_waits(api: Api) -> None:
    olga = await api.add_user("olga", Role.OPERATOR, display_name="Olga", team="desk")
    await api.add_user("boss", Role.SUPERVISOR)
    as_olga, as_boss = await api.login("olga"), await api.login("boss")
    form = await _contact(api, 1)
    call = await _contact(api, 2, channel="voice", status="ended", outcome="answered", answered_by=olga,
                          talk_seconds=65, direction="inbound")
    missed = await _contact(api, 3, channel="voice", status="ended", outcome="missed", callback_task="t-1")
    async with api.client.app[SESSIONS]() as session, session.begin():
        for result in (form, call):
            await leads.assign(session, result.lead_id, olga, utcnow())
    due = (utcnow() + timedelta(hours=2)).isoformat()
    await _ok(await api.client.post("/api/v1/tasks", json={"lead_id": form.lead_id, "kind": "call", "due_at": due,
                                                            "note": "ask about the budget"}, headers=as_olga), 201)

    mine = {x["id"]: x for x in (await _ok(await api.client.get("/api/v1/leads?view=mine", headers=as_olga)))["items"]}
    assert set(mine) == {form.lead_id, call.lead_id}
    line = mine[form.lead_id]
    assert line["contact"]["display_name"] == "Client 1" and line["stage"] and line["waiting"] is True
    assert line["next_task"]["kind"] == "call" and line["next_task"]["note"] == "ask about the budget"
    talk = mine[call.lead_id]["last_call"]
    assert (talk["outcome"], talk["talk_seconds"], talk["answered_by"]) == ("answered", 65,
                                                                            {"id": olga, "display_name": "Olga"})
    assert mine[call.lead_id]["waiting"] is False and mine[call.lead_id]["next_task"] is None

    everyone = {x["id"]: x for x in (await _ok(await api.client.get("/api/v1/leads?view=all",
                                                                     headers=as_boss)))["items"]}
    assert everyone[missed.lead_id]["last_call"]["outcome"] == "missed"
    assert everyone[missed.lead_id]["last_call"]["callback_task"] == "t-1"

    assert await _ok(await api.client.get("/api/v1/leads/counts", headers=as_olga)) == {"mine": 2, "unassigned": 1}
    assert await _ok(await api.client.get("/api/v1/leads/counts", headers=as_boss)) == \
        {"mine": 0, "unassigned": 1, "all": 3}
