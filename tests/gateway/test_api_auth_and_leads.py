"""The REST API end to end over HTTP: sign-in, role rules, the card, changes, refusals, audit."""
from __future__ import annotations

from typing import Any

from crm_store.types import Role


async def audit_actions(api, headers) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    response = await api.client.get("/api/v1/audit", headers=headers)
    assert response.status == 200
    return [(e["action"], e["outcome"]) for e in (await response.json())["items"]]


async def new_lead(api, headers, **body: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = await api.client.post("/api/v1/leads", json=body, headers=headers)
    assert response.status in (200, 201), await response.text()
    return await response.json()


async def test_login_sets_a_strict_http_only_cookie_that_also_authenticates(api):
    await api.add_user("olga", Role.MANAGER)
    response = await api.client.post("/api/v1/auth/login", json={"username": "olga", "password": "correct horse battery"})
    assert response.status == 200
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    me = await api.client.get("/api/v1/me")           # the client kept the cookie
    assert me.status == 200 and (await me.json())["username"] == "olga"
    await api.client.post("/api/v1/auth/logout", headers=api.origin)
    assert (await api.client.get("/api/v1/me")).status == 401


async def test_bad_credentials_and_missing_token_are_refused_and_audited(api):
    await api.add_user("boss", Role.ADMIN)
    bad = await api.client.post("/api/v1/auth/login", json={"username": "boss", "password": "nope"})
    assert bad.status == 401 and (await bad.json())["error"]["code"] == "bad_credentials"
    anonymous = await api.client.get("/api/v1/leads", headers={"Authorization": "Bearer forged"})
    assert anonymous.status == 401 and anonymous.headers["WWW-Authenticate"] == "Bearer"
    actions = await audit_actions(api, await api.login("boss"))
    assert ("auth.login_failed", "denied") in actions
    assert ("auth.unauthenticated", "unauthenticated") in actions


async def test_malformed_bodies_get_a_json_error_naming_the_field(api):
    await api.add_user("boss", Role.ADMIN)
    headers = await api.login("boss")
    broken = await api.client.post("/api/v1/leads", data=b"{not json", headers=headers)
    assert broken.status == 400 and (await broken.json())["error"]["code"] == "bad_json"
    unknown = await api.client.post("/api/v1/leads", json={"phone": "+79123456789", "colour": "red"},
                                    headers=headers)
    assert unknown.status == 422 and (await unknown.json())["error"]["field"] == "colour"
    bad_phone = await api.client.post("/api/v1/leads", json={"phone": "12"}, headers=headers)
    assert bad_phone.status == 422 and (await bad_phone.json())["error"]["field"] == "phone"
    bad_filter = await api.client.get("/api/v1/leads?status=sleeping", headers=headers)
    assert bad_filter.status == 422 and (await bad_filter.json())["error"]["field"] == "status"
    missing = await api.client.get("/api/v1/leads/abc", headers=headers)
    assert missing.status == 404


async def test_card_list_filters_and_pipeline_over_http(api):
    await api.add_user("olga", Role.MANAGER, team="sales")
    headers = await api.login("olga")
    created = await new_lead(api, headers, name="Анна", phone="+7 (912) 345-67-89", text="Перезвоните")
    again = await new_lead(api, headers, phone="79123456789", email="anna@example.ru")
    assert again["id"] == created["id"]                # same client, open lead: appended
    card = await (await api.client.get(f"/api/v1/leads/{created['id']}", headers=headers)).json()
    assert card["contact"]["display_name"] == "Анна"
    assert {(i["kind"], i["value"]) for i in card["contact"]["identities"]} == {
        ("phone", "+79123456789"), ("email", "anna@example.ru")}
    assert [t["text"] for t in card["timeline"]] == ["Перезвоните", ""]
    assert card["assignee"]["display_name"] == "olga"

    found = await (await api.client.get("/api/v1/leads?q=8 912 345 67 89&assignee=me", headers=headers)).json()
    assert [x["id"] for x in found["items"]] == [created["id"]]
    assert found["items"][0]["contact"]["display_name"] == "Анна"
    assert found["items"][0]["contact"]["identity"] == {"kind": "phone", "value": "+79123456789"}

    lost = await api.client.patch(f"/api/v1/leads/{created['id']}", json={"status": "lost"}, headers=headers)
    assert lost.status == 422 and (await lost.json())["error"]["field"] == "lost_reason"
    ok = await api.client.patch(f"/api/v1/leads/{created['id']}",
                                json={"status": "lost", "lost_reason": "chose a competitor", "notes": "n"},
                                headers=headers)
    assert ok.status == 200 and (await ok.json())["outcome"] == "lost"


async def test_operators_do_not_see_other_peoples_leads_and_the_attempt_is_audited(api):
    await api.add_user("olga", Role.MANAGER, team="sales")
    await api.add_user("ivan", Role.OPERATOR, team="support")
    await api.add_user("boss", Role.SUPERVISOR)
    lead = await new_lead(api, await api.login("olga"), phone="+79123456789")
    ivan = await api.login("ivan")
    assert (await api.client.get(f"/api/v1/leads/{lead['id']}", headers=ivan)).status == 403
    assert (await (await api.client.get("/api/v1/leads", headers=ivan)).json())["items"] == []
    assert (await api.client.get("/api/v1/users", headers=ivan)).status == 403
    boss = await api.login("boss")
    assert (await api.client.get(f"/api/v1/leads/{lead['id']}", headers=boss)).status == 200
    actions = await audit_actions(api, boss)
    assert ("lead.read", "denied") in actions and ("lead.read", "ok") in actions
    assert ("auth.forbidden", "denied") in actions


async def test_admins_manage_users(api):
    await api.add_user("root", Role.ADMIN)
    root = await api.login("root")
    created = await api.client.post("/api/v1/users", headers=root, json={
        "username": "petr", "password": "long enough", "role": "operator", "extension": "101",
        "skills": {"sales": 2}, "capacity": {"voice": 1, "chat": 2}, "team": "sales", "locale": "ru"})
    assert created.status == 201, await created.text()
    user = await created.json()
    duplicate = await api.client.post("/api/v1/users", headers=root, json={
        "username": "petr", "password": "long enough", "role": "operator"})
    assert duplicate.status == 409
    changed = await api.client.patch(f"/api/v1/users/{user['id']}", headers=root, json={"active": False})
    assert changed.status == 200 and (await changed.json())["active"] is False
    login = await api.client.post("/api/v1/auth/login", json={"username": "petr", "password": "long enough"})
    assert login.status == 401
    petr_cannot = await api.client.patch(f"/api/v1/users/{user['id']}", headers=root, json={"role": "god"})
    assert petr_cannot.status == 422 and (await petr_cannot.json())["error"]["field"] == "role"


async def test_merge_suggestion_accept_and_undo_over_http(api):
    await api.add_user("boss", Role.SUPERVISOR)
    boss = await api.login("boss")
    anna = await new_lead(api, boss, phone="+79123456789")
    boris = await new_lead(api, boss, email="boris@example.com")
    await new_lead(api, boss, phone="+79123456789", email="boris@example.com")
    [suggestion] = (await (await api.client.get("/api/v1/merge-suggestions", headers=boss)).json())["items"]
    assert set(suggestion["contact_ids"]) == {anna["contact_id"], boris["contact_id"]}
    accepted = await api.client.post(f"/api/v1/merge-suggestions/{suggestion['id']}/accept", headers=boss,
                                     json={"survivor_id": anna["contact_id"]})
    merge = await accepted.json()
    assert merge["status"] == "accepted" and merge["survivor_id"] == anna["contact_id"]
    card = await (await api.client.get(f"/api/v1/leads/{boris['id']}", headers=boss)).json()
    assert card["contact"]["id"] == anna["contact_id"]
    undone = await api.client.post(f"/api/v1/merges/{merge['merge_id']}/undo", headers=boss)
    assert undone.status == 200
    card = await (await api.client.get(f"/api/v1/leads/{boris['id']}", headers=boss)).json()
    assert card["contact"]["id"] == boris["contact_id"]
    assert (await api.client.post(f"/api/v1/merges/{merge['merge_id']}/undo", headers=boss)).status == 409


async def test_health_readiness_and_metrics(api):
    assert (await api.client.get("/healthz")).status == 200
    assert (await (await api.client.get("/readyz")).json())["status"] == "ok"
    text = await (await api.client.get("/metrics")).text()
    assert "switchboard_ingested_events_total 0" in text


async def test_source_effectiveness_report(api):
    await api.add_user("boss", Role.SUPERVISOR)
    headers = await api.login("boss")
    for i, source in enumerate(["yandex", "yandex", "google"]):
        await api.client.post("/forms/default", data={"phone": f"+7912000000{i}", "utm_source": source})
    leads = (await (await api.client.get("/api/v1/leads", headers=headers)).json())["items"]
    won = next(x for x in leads if x["source"].get("utm_source") == "yandex")
    await api.client.patch(f"/api/v1/leads/{won['id']}", json={"status": "won"}, headers=headers)
    report = await (await api.client.get("/api/v1/reports/sources?by=channel,utm_source", headers=headers)).json()
    rows = {r["source"]["utm_source"]: r for r in report["rows"]}
    assert (rows["yandex"]["leads"], rows["yandex"]["won"], rows["yandex"]["open"]) == (2, 1, 1)
    # won / all leads: the open one counts (won / closed would say 100%)
    assert rows["yandex"]["conversion"] == 0.5 and rows["google"]["conversion"] == 0.0
    bad = await api.client.get("/api/v1/reports/sources?since=yesterday", headers=headers)
    assert bad.status == 422 and (await bad.json())["error"]["field"] == "since"
