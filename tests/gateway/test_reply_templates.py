"""Quick replies: shared and personal, found by short code, variables filled for a lead, per-channel text."""
from __future__ import annotations

from crm_store.types import Role
from gateway.keys import INTAKE
from test_replies_and_attachments import chat_message


async def test_templates_by_code_with_variables_and_channel_variants(api):
    olga = await api.add_user("olga", Role.MANAGER, display_name="Ольга")
    await api.add_user("boss", Role.SUPERVISOR)
    olga_h, boss_h = await api.login("olga"), await api.login("boss")
    shared = {"code": "hello", "title": "Greeting", "shared": True,
              "texts": {"default": "Hello, {client_name}! {manager_name}, lead {lead_id}. {unknown}",
                        "chat": "Привет, {client_name}!"}}
    refused = await api.client.post("/api/v1/templates", json=shared, headers=olga_h)
    assert refused.status == 403 and (await refused.json())["error"]["field"] == "shared"
    assert (await api.client.post("/api/v1/templates", json=shared, headers=boss_h)).status == 201
    again = await api.client.post("/api/v1/templates", json=shared, headers=boss_h)
    assert again.status == 409 and (await again.json())["error"]["field"] == "code"
    mine = {"code": "help", "title": "Help", "texts": {"default": "How can I help, {client_name}?"}}
    assert (await api.client.post("/api/v1/templates", json=mine, headers=olga_h)).status == 201
    bad = await api.client.post("/api/v1/templates", json={**mine, "texts": {"email": "x"}}, headers=olga_h)
    assert bad.status == 422 and (await bad.json())["error"]["field"] == "texts"

    lead = (await api.client.app[INTAKE].emit(chat_message("Здравствуйте"))).lead_id
    await api.client.patch(f"/api/v1/leads/{lead}", json={"assignee_id": olga}, headers=boss_h)
    found = await (await api.client.get(f"/api/v1/templates?q=/he&lead_id={lead}", headers=olga_h)).json()
    assert [(t["code"], t["text"]) for t in found["items"]] == [("help", "How can I help, Ирина?"),
                                                               ("hello", "Привет, Ирина!")]
    as_mail = await (await api.client.get(f"/api/v1/templates?q=hello&lead_id={lead}&channel=email",
                                          headers=olga_h)).json()
    assert as_mail["items"][0]["text"] == f"Hello, Ирина! Ольга, lead {lead}. {{unknown}}"
    # The boss does not see olga's own template.
    assert [t["code"] for t in (await (await api.client.get("/api/v1/templates?q=h", headers=boss_h)).json())["items"]] == ["hello"]


async def test_templates_are_changed_by_whoever_may_edit_them(api):
    await api.add_user("olga", Role.MANAGER)
    await api.add_user("boss", Role.SUPERVISOR)
    olga_h, boss_h = await api.login("olga"), await api.login("boss")
    shared = await (await api.client.post("/api/v1/templates", json={
        "code": "bye", "title": "Bye", "shared": True, "texts": {"default": "Bye"}}, headers=boss_h)).json()
    mine = await (await api.client.post("/api/v1/templates", json={
        "code": "thanks", "title": "Thanks", "texts": {"default": "Thanks"}}, headers=olga_h)).json()
    await api.client.post("/api/v1/templates", json={"code": "hi", "title": "Hi", "texts": {"default": "Hi"}},
                          headers=olga_h)

    refused = await api.client.patch(f"/api/v1/templates/{shared['id']}", json={"title": "x"}, headers=olga_h)
    assert refused.status == 403                                     # shared: supervisors and admins only
    changed = await api.client.patch(f"/api/v1/templates/{shared['id']}", json={
        "title": "Goodbye", "texts": {"default": "Goodbye, {client_name}", "email": "Kind regards"}}, headers=boss_h)
    assert changed.status == 200, await changed.text()
    assert (await changed.json())["texts"] == {"default": "Goodbye, {client_name}", "email": "Kind regards"}
    hidden = await api.client.patch(f"/api/v1/templates/{mine['id']}", json={"title": "x"}, headers=boss_h)
    assert hidden.status == 404                                      # someone's own template is theirs alone
    clash = await api.client.patch(f"/api/v1/templates/{mine['id']}", json={"code": "hi"}, headers=olga_h)
    assert clash.status == 409 and (await clash.json())["error"]["field"] == "code"
    for body, field in (({"texts": {"email": "x"}}, "texts"), ({"code": None}, "code"), ({"code": "Нет"}, "code"),
                        ({"shared": True}, "shared")):
        bad = await api.client.patch(f"/api/v1/templates/{mine['id']}", json=body, headers=olga_h)
        assert bad.status == 422 and (await bad.json())["error"]["field"] == field, (body, await bad.text())
    renamed = await api.client.patch(f"/api/v1/templates/{mine['id']}", json={"code": "thx"}, headers=olga_h)
    assert renamed.status == 200
    found = await (await api.client.get("/api/v1/templates?q=th", headers=olga_h)).json()
    assert [(t["code"], t["title"]) for t in found["items"]] == [("thx", "Thanks")]
