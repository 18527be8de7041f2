"""The card's short form: fields the admin marks required must be filled before a lead closes."""
from __future__ import annotations

from typing import Any

import pytest

from crm_store.types import Role


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"leads": {"fields": {
        "city": {"label": "City", "label_ru": "Город", "required": True},
        "temperature": {"label": "How hot", "choices": ["hot", "warm", "cold"], "required": True},
        "note": {"label": "Note"}}}}


async def test_required_fields_block_closing_until_filled(api):
    await api.add_user("boss", Role.SUPERVISOR)
    headers = await api.login("boss")
    config = await (await api.client.get("/api/v1/config", headers=headers)).json()
    assert config["lead_fields"]["city"]["label_ru"] == "Город" and config["phone_region"] == "RU"
    lead = await (await api.client.post("/api/v1/leads", json={"phone": "+79123456789"}, headers=headers)).json()
    url = f"/api/v1/leads/{lead['id']}"
    refused = await api.client.patch(url, json={"status": "won"}, headers=headers)
    assert refused.status == 422 and (await refused.json())["error"]["field"] == "city"
    await api.client.patch(url, json={"fields": {"city": "Казань"}}, headers=headers)
    refused = await api.client.patch(url, json={"status": "won"}, headers=headers)
    assert (await refused.json())["error"]["field"] == "temperature"
    unknown = await api.client.patch(url, json={"fields": {"colour": "red"}}, headers=headers)
    assert unknown.status == 422
    done = await api.client.patch(url, json={"fields": {"temperature": "hot"}, "status": "won"}, headers=headers)
    assert done.status == 200, await done.text()
    body = await done.json()
    assert body["attributes"]["fields"] == {"city": "Казань", "temperature": "hot"} and body["status"] == "won"
