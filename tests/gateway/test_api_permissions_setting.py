"""Whether a role may delete others' records is a setting: "a manager may add but not delete"."""
from __future__ import annotations

from typing import Any

import pytest

from crm_store.types import Role
from test_api_auth_and_leads import audit_actions, new_lead


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # "A manager may add but not delete."
    return {"permissions": {"delete": ["admin"], "edit_others": ["supervisor", "admin"]}}


async def test_delete_follows_the_permission_setting(api):
    await api.add_user("olga", Role.MANAGER)
    await api.add_user("root", Role.ADMIN)
    olga = await api.login("olga")
    lead = await new_lead(api, olga, phone="+79123456789")
    refused = await api.client.delete(f"/api/v1/leads/{lead['id']}", headers=olga)
    assert refused.status == 403
    root = await api.login("root")
    assert (await api.client.delete(f"/api/v1/leads/{lead['id']}", headers=root)).status == 204
    assert (await api.client.get(f"/api/v1/leads/{lead['id']}", headers=root)).status == 404
    assert ("lead.delete", "denied") in await audit_actions(api, root)
