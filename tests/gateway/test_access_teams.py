"""Teams through the real server: another team's clients are never listed, merged, joined or revealed."""
from __future__ import annotations

import uuid
from typing import Any

from crm_store import leads
from crm_store.ingest import utcnow
from crm_store.types import Claim, IngestRequest, IngestResult, Role
from gateway.keys import INGESTOR, SESSIONS
from support.gateway_app import Api


async def _contact(api: Api, *claims: tuple[str, str], text: str = "hello") -> IngestResult:
    request = IngestRequest(channel="form", event_id=uuid.uuid4().hex, received_at=utcnow(), text=text,
                            claims=tuple(Claim(kind, value, True, "stated") for kind, value in claims),
                            primary_kind=claims[0][0])
    return await api.client.app[INGESTOR].ingest(request)


async def _assign(api: Api, lead_id: int, user_id: int) -> None:
    async with api.client.app[SESSIONS]() as session, session.begin():
        await leads.assign(session, lead_id, user_id, utcnow())


async def _pair(api: Api, phone: str, email: str, owner: int) -> tuple[int, IngestResult, IngestResult]:
    """Two clients of `owner`'s team that one message names both of: a merge suggestion."""
    by_phone, by_mail = await _contact(api, ("phone", phone)), await _contact(api, ("email", email))
    for result in (by_phone, by_mail):
        await _assign(api, result.lead_id, owner)
    both = await _contact(api, ("phone", phone), ("email", email))
    [suggestion_id] = both.merge_suggestion_ids
    return suggestion_id, by_phone, by_mail


async def _denied(api: Api, boss: dict[str, str], user_id: int) -> list[dict[str, Any]]:
    response = await api.client.get("/api/v1/audit", headers=boss)
    return [e for e in (await response.json())["items"] if e["user_id"] == user_id and e["outcome"] == "denied"]


async def test_merges_are_decided_and_undone_only_within_the_team(api: Api) -> None:
    sam = await api.add_user("sam", Role.MANAGER, team="sales")
    sue = await api.add_user("sue", Role.MANAGER, team="support")
    await api.add_user("boss", Role.SUPERVISOR)
    sales_id, _, _ = await _pair(api, "+79161112233", "buyer@example.com", sam)
    support_id, _, _ = await _pair(api, "+79164445566", "helpme@example.com", sue)
    as_sam, as_sue, as_boss = await api.login("sam"), await api.login("sue"), await api.login("boss")

    async def listed(headers: dict[str, str]) -> set[int]:
        response = await api.client.get("/api/v1/merge-suggestions", headers=headers)
        return {s["id"] for s in (await response.json())["items"]}

    assert await listed(as_sue) == {support_id}
    assert await listed(as_sam) == {sales_id}
    assert await listed(as_boss) == {sales_id, support_id}
    text = await (await api.client.get("/api/v1/merge-suggestions", headers=as_sue)).text()
    assert "+79161112233" not in text and "buyer@example.com" not in text

    for decision in ("accept", "reject"):
        refused = await api.client.post(f"/api/v1/merge-suggestions/{sales_id}/{decision}", json={}, headers=as_sue)
        assert refused.status == 404, await refused.text()     # not "forbidden": its existence is not revealed
    accepted = await api.client.post(f"/api/v1/merge-suggestions/{sales_id}/accept", json={}, headers=as_sam)
    assert accepted.status == 200, await accepted.text()
    merge_id = (await accepted.json())["merge_id"]
    undo = await api.client.post(f"/api/v1/merges/{merge_id}/undo", headers=as_sue)
    assert undo.status == 404
    assert (await api.client.post(f"/api/v1/merges/{merge_id}/undo", headers=as_sam)).status == 200
    assert await listed(as_sam) == {sales_id}                  # undone: pending again, for its team only

    actions = [e["action"] for e in await _denied(api, as_boss, sue)]
    assert actions.count("merge.decide") == 2 and actions.count("merge.undo") == 1


async def test_a_manual_lead_never_joins_or_reveals_another_teams_client(api: Api) -> None:
    sam = await api.add_user("sam", Role.MANAGER, team="sales")
    await api.add_user("otto", Role.OPERATOR, team="support")
    await api.add_user("boss", Role.SUPERVISOR)
    sales = await _contact(api, ("phone", "+79167778899"), ("email", "vip@example.com"), text="big order")
    await _assign(api, sales.lead_id, sam)
    as_otto, as_sam, as_boss = await api.login("otto"), await api.login("sam"), await api.login("boss")

    created = await api.client.post("/api/v1/leads", json={"phone": "8 916 777-88-99", "text": "printer broken"},
                                    headers=as_otto)
    assert created.status == 201, await created.text()
    mine = await created.json()
    assert mine["id"] != sales.lead_id and mine["contact_id"] != sales.contact_id
    assert mine["assignee_id"] == mine["owner_id"] and mine["attributes"]["phone"] == "+79167778899"
    card = await (await api.client.get(f"/api/v1/leads/{mine['id']}", headers=as_otto)).json()
    assert card["contact"]["identities"] == [] and card["merge_suggestions"] == []
    # No field of the card names the sales lead (ids of other things, a stage or a pipeline, may equal it by chance).
    other_things = {"pipeline_id", "stage_id", "company_id", "team_id", "owner_id", "assignee_id", "contact_id",
                    "priority", "amount"}
    assert str(sales.lead_id) not in {str(v) for k, v in card["lead"].items() if k not in other_things}
    assert "vip@example.com" not in await (await api.client.get(f"/api/v1/leads/{mine['id']}", headers=as_otto)).text()

    sales_card = await (await api.client.get(f"/api/v1/leads/{sales.lead_id}", headers=as_sam)).json()
    assert [i["text"] for i in sales_card["timeline"]] == ["big order"]     # the text did not travel
    suggestions = await (await api.client.get("/api/v1/merge-suggestions", headers=as_boss)).json()
    assert [sorted(s["contact_ids"]) for s in suggestions["items"]] == [sorted([sales.contact_id, mine["contact_id"]])]

    # Within one's own team a typed phone still finds the client and continues their open lead.
    same_team = await api.client.post("/api/v1/leads", json={"phone": "+79167778899", "text": "wants a discount"},
                                      headers=as_sam)
    assert same_team.status == 201 and (await same_team.json())["id"] == sales.lead_id


async def test_refused_downloads_routing_stories_and_replies_are_audited(api: Api) -> None:
    sam = await api.add_user("sam", Role.MANAGER, team="sales")
    otto = await api.add_user("otto", Role.OPERATOR, team="support")
    await api.add_user("boss", Role.SUPERVISOR)
    sales = await _contact(api, ("phone", "+79160001122"))
    await _assign(api, sales.lead_id, sam)
    as_otto, as_boss = await api.login("otto"), await api.login("boss")

    routing = await api.client.get(f"/api/v1/leads/{sales.lead_id}/routing", headers=as_otto)
    reply = await api.client.post(f"/api/v1/leads/{sales.lead_id}/reply", json={"text": "hi"}, headers=as_otto)
    download = await api.client.get(f"/api/v1/interactions/{sales.interaction_id}/attachments/0", headers=as_otto)
    assert {routing.status, reply.status, download.status} <= {403, 404}

    denied = await _denied(api, as_boss, otto)
    assert {e["action"] for e in denied} >= {"lead.routing", "lead.reply", "attachment.read"}
    by_action = {e["action"]: e for e in denied}
    assert by_action["lead.reply"]["lead_id"] == sales.lead_id and by_action["lead.routing"]["ip"]
    assert str(sales.interaction_id) in by_action["attachment.read"]["detail"]["path"]
