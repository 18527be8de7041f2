"""Teams through the real server (scoped reads, admin-only changes, delete only when empty, each change
audited) and an admin's password reset (a one-time password shown once, the old sessions gone)."""
from __future__ import annotations

from typing import Any

import pytest

from crm_store.types import Role
from support.gateway_app import PASSWORD, Api


async def _audit(api: Api, boss: dict[str, str], action: str) -> list[dict[str, Any]]:
    response = await api.client.get("/api/v1/audit", params={"action": action}, headers=boss)
    assert response.status == 200, await response.text()
    return (await response.json())["items"]


async def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    return (await response.json())["error"]


async def test_teams_are_listed_by_scope_changed_by_admins_and_deleted_only_when_empty(api: Api) -> None:
    await api.add_user("root", Role.ADMIN)
    await api.add_user("boss", Role.SUPERVISOR)
    sam = await api.add_user("sam", Role.MANAGER, team="Sales")
    await api.add_user("ivan", Role.OPERATOR)
    root, boss, as_sam, as_ivan = [await api.login(n) for n in ("root", "boss", "sam", "ivan")]

    made = await api.client.post("/api/v1/teams", json={"name": "  Support  desk "}, headers=root)
    assert made.status == 201, await made.text()
    support = await made.json()
    assert support["name"] == "Support desk" and support["members"] == 0

    everyone = (await (await api.client.get("/api/v1/teams", headers=boss)).json())["items"]
    assert [(t["name"], t["members"]) for t in everyone] == [("Sales", 1), ("Support desk", 0)]
    own = (await (await api.client.get("/api/v1/teams", headers=as_sam)).json())["items"]
    assert [t["name"] for t in own] == ["Sales"]
    assert (await (await api.client.get("/api/v1/teams", headers=as_ivan)).json())["items"] == []

    # Only admins change teams; the refusal is audited.
    for who in (boss, as_sam):
        assert (await api.client.post("/api/v1/teams", json={"name": "Mine"}, headers=who)).status == 403
        assert (await api.client.patch(f"/api/v1/teams/{support['id']}", json={"name": "X"}, headers=who)).status == 403
        assert (await api.client.delete(f"/api/v1/teams/{support['id']}", headers=who)).status == 403
    assert len([e for e in await _audit(api, boss, "auth.forbidden") if "/api/v1/teams" in e["detail"]["path"]]) == 6

    # Bad input names its field; a name taken (in any case) is a conflict naming it.
    assert (await _error(await api.client.post("/api/v1/teams", json={}, headers=root), 422))["field"] == "name"
    assert (await _error(await api.client.post("/api/v1/teams", json={"name": "x" * 101}, headers=root), 422))["field"] == "name"
    assert (await _error(await api.client.post("/api/v1/teams", json={"name": "   "}, headers=root), 422))["field"] == "name"
    assert (await _error(await api.client.post("/api/v1/teams", json={"name": "A", "x": 1}, headers=root), 422))["field"] == "x"
    assert (await _error(await api.client.post("/api/v1/teams", json={"name": "sales"}, headers=root), 409))["field"] == "name"
    assert (await _error(await api.client.patch(f"/api/v1/teams/{support['id']}", json={"name": "SALES"},
                                                headers=root), 409))["field"] == "name"
    await _error(await api.client.patch("/api/v1/teams/999999", json={"name": "Y"}, headers=root), 404)
    await _error(await api.client.delete("/api/v1/teams/99999999999999999999", headers=root), 404)

    renamed = await api.client.patch(f"/api/v1/teams/{support['id']}", json={"name": "Care"}, headers=root)
    assert renamed.status == 200 and (await renamed.json())["name"] == "Care"

    # A team someone belongs to stays; emptied, it goes.
    sales = everyone[0]["id"]
    refused = await _error(await api.client.delete(f"/api/v1/teams/{sales}", headers=root), 409)
    assert "1 users" in refused["message"] and refused["field"] == "team"
    moved = await api.client.patch(f"/api/v1/users/{sam}", json={"team": "Care"}, headers=root)
    assert moved.status == 200 and (await moved.json())["team_id"] == support["id"]
    assert (await api.client.delete(f"/api/v1/teams/{sales}", headers=root)).status == 204
    assert [t["name"] for t in (await (await api.client.get("/api/v1/teams", headers=boss)).json())["items"]] == ["Care"]

    entries = await _audit(api, boss, "team.")
    assert [(e["action"], e["outcome"]) for e in reversed(entries)] == [
        ("team.create", "ok"), ("team.create", "denied"), ("team.rename", "denied"), ("team.rename", "denied"),
        ("team.rename", "ok"), ("team.delete", "denied"), ("team.delete", "ok")]
    assert entries[0]["detail"] == {"team_id": sales, "name": "Sales"}
    assert entries[2]["detail"] == {"team_id": support["id"], "name": "Care", "was": "Support desk"}
    assert "still has 1 users" in entries[1]["detail"]["reason"]

    # The audit log pages back from an entry's id, with the same filters.
    first = (await (await api.client.get("/api/v1/audit", params={"action": "team.", "limit": "3"}, headers=boss)).json())["items"]
    rest = (await (await api.client.get("/api/v1/audit", params={"action": "team.", "before": str(first[-1]["id"])},
                                        headers=boss)).json())["items"]
    assert [e["id"] for e in first + rest] == [e["id"] for e in entries] and len(first) == 3
    assert (await _error(await api.client.get("/api/v1/audit", params={"before": "x"}, headers=boss), 422))["field"] == "before"


# Argon2 makes every sign-in slow by design; nothing below differs between engines (the teams test runs on both).
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
async def test_an_admin_resets_a_password_once_and_the_old_sign_ins_end(api: Api) -> None:
    await api.add_user("root", Role.ADMIN)
    await api.add_user("boss", Role.SUPERVISOR)
    ivan = await api.add_user("ivan", Role.OPERATOR)
    root, boss, as_ivan = await api.login("root"), await api.login("boss"), await api.login("ivan")

    assert (await api.client.post(f"/api/v1/users/{ivan}/password", json={}, headers=boss)).status == 403
    assert (await api.client.post(f"/api/v1/users/{ivan}/password", json={}, headers=as_ivan)).status == 403
    bad = await _error(await api.client.post(f"/api/v1/users/{ivan}/password", json={"password": "mine"}, headers=root), 422)
    assert bad["field"] == "password"
    await _error(await api.client.post("/api/v1/users/424242/password", json={}, headers=root), 404)

    reset = await api.client.post(f"/api/v1/users/{ivan}/password", json={}, headers=root)
    assert reset.status == 200, await reset.text()
    first = (await reset.json())["password"]
    again = (await (await api.client.post(f"/api/v1/users/{ivan}/password", json={}, headers=root)).json())["password"]
    assert len(first) >= 12 and first != again and first != PASSWORD

    assert (await api.client.get("/api/v1/me", headers=as_ivan)).status == 401
    for old in (PASSWORD, first):
        login = await api.client.post("/api/v1/auth/login", json={"username": "ivan", "password": old})
        assert login.status == 401
    login = await api.client.post("/api/v1/auth/login", json={"username": "ivan", "password": again})
    assert login.status == 200 and (await login.json())["user"]["must_change_password"] is True
    temporary = {"Authorization": f"Bearer {(await login.json())['token']}"}

    # The one-time password only lets ivan choose his own.
    refused = await _error(await api.client.get("/api/v1/leads", headers=temporary), 403)
    assert refused["code"] == "password_change_required"
    assert (await api.client.get("/api/v1/me", headers=temporary)).status == 200

    async def choose(current: str, new: str) -> Any:
        return await api.client.post("/api/v1/me/password", headers=temporary,
                                     json={"current_password": current, "new_password": new})
    assert (await _error(await choose("wrong guess", "my own secret"), 422))["field"] == "current_password"
    assert (await _error(await choose(again, "short"), 422))["field"] == "new_password"
    assert (await _error(await choose(again, again), 422))["field"] == "new_password"
    chosen = await choose(again, "my own secret")
    assert chosen.status == 200 and (await chosen.json())["must_change_password"] is False
    assert (await api.client.get("/api/v1/leads", headers=temporary)).status == 200
    assert (await api.client.post("/api/v1/auth/login", json={"username": "ivan", "password": again})).status == 401

    entries = await _audit(api, boss, "user.password_reset")
    assert [e["detail"] for e in entries] == [{"user_id": ivan, "username": "ivan"}] * 2
    assert [(e["user_id"], e["detail"]) for e in await _audit(api, boss, "user.password_change")] == [
        (ivan, {"sessions_ended": 0})]
    assert all(again not in str(e) and first not in str(e) for e in await _audit(api, boss, ""))
    # The list of users never shows a password or its hash.
    listed = await (await api.client.get("/api/v1/users", headers=root)).text()
    assert again not in listed and "argon2" not in listed


@SQLITE_ONLY
async def test_an_admin_edits_time_zone_extension_and_capacity_with_errors_naming_fields(api: Api) -> None:
    await api.add_user("root", Role.ADMIN)
    await api.add_user("olga", Role.OPERATOR, extension="101")
    ivan = await api.add_user("ivan", Role.OPERATOR)
    root = await api.login("root")

    async def change(body: dict[str, Any]) -> Any:
        return await api.client.patch(f"/api/v1/users/{ivan}", json=body, headers=root)

    assert (await _error(await change({"time_zone": "Mars/Olympus"}), 422))["field"] == "time_zone"
    assert (await _error(await change({"role": None}), 422))["field"] == "role"
    assert (await _error(await change({"capacity": {"voice": -1}}), 422))["field"] == "capacity.voice"
    assert (await _error(await change({"extension": "101"}), 409))["field"] == "extension"
    ok = await change({"time_zone": "Europe/Moscow", "capacity": {"voice": 2, "chat": 6}, "extension": ""})
    assert ok.status == 200, await ok.text()
    body = await ok.json()
    assert (body["time_zone"], body["capacity"], body["extension"]) == ("Europe/Moscow", {"voice": 2, "chat": 6}, None)

    made = await api.client.post("/api/v1/users", headers=root, json={
        "username": "pavel", "password": "long enough pw", "role": "manager", "time_zone": "Asia/Yekaterinburg"})
    assert made.status == 201 and (await made.json())["time_zone"] == "Asia/Yekaterinburg"
    bad = await api.client.post("/api/v1/users", headers=root, json={
        "username": "petr", "password": "long enough pw", "role": "manager", "time_zone": "Nowhere"})
    assert (await _error(bad, 422))["field"] == "time_zone"
