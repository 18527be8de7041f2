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
