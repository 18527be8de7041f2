"""Hostile but cheap inputs get a 4xx naming the field, never a 500, on both engines."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from crm_store.models import Contact, Interaction, Lead
from crm_store.types import Role
from gateway.keys import SESSIONS
from support.postgres_server import free_port
from support.smtp_client import send_mail

HUGE = "999999999999999999999999"


@pytest.fixture
def smtp_port() -> int:
    """Per test, not per module: a port released between tests is up for grabs by the other parallel workers."""
    return free_port()


@pytest.fixture
def settings_overrides(smtp_port: int) -> dict[str, Any]:
    return {"forms": {"busy": {"rate_per_minute": 100000, "burst": 1000}},
            "smtp": {"listen": f"127.0.0.1:{smtp_port}", "domains": ["shop.example"]}}


async def _status(response) -> tuple[int, Any]:  # type: ignore[no-untyped-def]
    body = await response.json() if response.content_type == "application/json" else await response.text()
    return response.status, body.get("error", {}).get("field") if isinstance(body, dict) else None


async def test_ids_too_large_unicode_digits_and_far_dates_are_refused_by_name(api):
    await api.add_user("boss", Role.ADMIN)
    h = await api.login("boss")
    c = api.client
    checks = [
        (c.get(f"/api/v1/leads/{HUGE}", headers=h), 404, None),
        (c.get("/api/v1/leads/²", headers=h), 404, None),
        (c.patch(f"/api/v1/leads/{HUGE}", json={"notes": "x"}, headers=h), 404, None),
        (c.delete(f"/api/v1/leads/{HUGE}", headers=h), 404, None),
        (c.post(f"/api/v1/leads/{HUGE}/reply", json={"text": "x"}, headers=h), 404, None),
        (c.get(f"/api/v1/leads/{HUGE}/routing", headers=h), 404, None),
        (c.get("/api/v1/leads/١٢/routing", headers=h), 404, None),
        (c.patch(f"/api/v1/users/{HUGE}", json={"display_name": "x"}, headers=h), 404, None),
        (c.patch("/api/v1/users/²", json={"display_name": "x"}, headers=h), 404, None),
        (c.post(f"/api/v1/merge-suggestions/{HUGE}/accept", json={}, headers=h), 404, None),
        (c.post(f"/api/v1/merges/{HUGE}/undo", headers=h), 404, None),
        (c.get(f"/api/v1/interactions/{HUGE}/attachments/0", headers=h), 404, None),
        (c.get("/api/v1/leads?assignee=²", headers=h), 422, "assignee"),
        (c.get(f"/api/v1/leads?assignee={HUGE}", headers=h), 422, "assignee"),
        (c.get("/api/v1/leads?limit=²", headers=h), 422, "limit"),
        (c.get(f"/api/v1/leads?offset={HUGE}", headers=h), 422, "offset"),
        (c.get("/api/v1/audit?lead_id=²", headers=h), 422, "lead_id"),
        (c.get(f"/api/v1/audit?lead_id={HUGE}", headers=h), 422, "lead_id"),
        (c.get("/api/v1/reports/sources?until=9999-12-31", headers=h), 422, "until"),
        (c.get("/api/v1/reports/sources?since=0001-01-01", headers=h), 422, "since"),
        (c.get("/api/v1/reports/sources?since=２０２６-01-01", headers=h), 422, "since"),
        (c.post("/api/v1/calls", json={"lead_id": 2**70}, headers=h), 422, "lead_id"),
        (c.post("/api/v1/merge-suggestions/1/accept", json={"survivor_id": 2**70}, headers=h), 422, "survivor_id"),
        (c.post("/api/v1/users", json={"username": "u1", "password": "long enough", "role": "manager",
                                       "skills": {"sales": 2**70}}, headers=h), 422, "skills.sales"),
    ]
    for request, status, field in checks:
        assert await _status(await request) == (status, field)
    lead = await c.post("/api/v1/leads", json={"name": "Анна"}, headers=h)
    assert lead.status == 201, await lead.text()
    patched = await c.patch(f"/api/v1/leads/{(await lead.json())['id']}", json={"assignee_id": 2**70}, headers=h)
    assert await _status(patched) == (422, "assignee_id")


async def test_nul_and_deep_json_are_refused_naming_the_field(api):
    await api.add_user("boss", Role.ADMIN)
    h = await api.login("boss")
    c = api.client
    assert await _status(await c.post("/api/v1/leads", json={"name": "A\x00B"}, headers=h)) == (422, "name")
    assert await _status(await c.post("/api/v1/leads", json={"name": "A\ud800"}, headers=h)) == (422, "name")
    assert await _status(await c.get("/static/a%00b")) == (400, None)
    assert await _status(await c.get("/api/v1/leads?q=%00", headers=h)) == (400, None)
    deep = b"[" * 100_000 + b"]" * 100_000
    for path in ("/api/v1/leads", "/api/v1/auth/login", "/forms/default"):
        response = await c.post(path, data=deep, headers={**h, "Content-Type": "application/json"})
        assert response.status in (400, 413), (path, response.status)
    assert (await c.get("/healthz")).status == 200


async def test_a_nul_in_a_form_does_not_fail_its_neighbours_in_the_group_commit(api):
    posts = [{"name": f"Client {i}", "phone": f"+7912000{i:04d}", "message": "hello"} for i in range(40)]
    posts[7]["message"] = "bad \x00 byte"
    posts[21]["name"] = "N\x00L"
    answers = await asyncio.gather(*(api.client.post("/forms/busy", data=p) for p in posts))
    assert [a.status for a in answers] == [201] * 40
    async with api.client.app[SESSIONS]() as session:
        texts = set(await session.scalars(select(Interaction.text)))
    assert "bad  byte" in texts and len(texts) == 2


async def test_a_mail_with_a_very_long_name_and_subject_is_stored_whole(api, smtp_port):
    name, subject = "Очень " * 60 + "Длинное Имя", "Тема " * 150 + "конец"
    raw = (f"From: {name} <long@example.org>\r\nTo: sales@shop.example\r\nSubject: {subject}\r\n"
           f"Message-ID: <{'x' * 400}@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n")
    for _ in range(2):                  # the same Message-ID twice: one lead
        assert await asyncio.to_thread(send_mail, smtp_port, raw.encode(), sender="long@example.org") == 250
    async with api.client.app[SESSIONS]() as session:
        assert list(await session.scalars(select(Contact.display_name))) == [name]
        assert list(await session.scalars(select(Lead.subject))) == [subject]
        assert len(list(await session.scalars(select(Interaction.id)))) == 1
