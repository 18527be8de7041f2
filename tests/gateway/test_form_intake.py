"""A website form post becomes a stored lead card, attached to the right client, exactly once."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select, text

from crm_store.models import Contact, Identity, Interaction, Lead
from crm_store.types import Role
from gateway.keys import ENGINE, SESSIONS


@pytest.fixture
def settings_overrides() -> dict[str, dict[str, dict[str, object]]]:
    return {"forms": {"busy": {"rate_per_minute": 100000, "burst": 1000}}}


async def rows(api, model) -> int:  # type: ignore[no-untyped-def]
    async with api.client.app[SESSIONS]() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_three_spellings_of_one_russian_number_are_one_client_with_one_open_lead(api):
    spellings = ["+7 (912) 345-67-89", "8 912 345 67 89", "79123456789"]
    lead_ids = set()
    for i, phone in enumerate(spellings):
        response = await api.client.post("/forms/default", data={"name": "Анна", "phone": phone,
                                                                 "message": f"заявка {i}", "utm_source": "yandex"})
        assert response.status == 201, await response.text()
        lead_ids.add((await response.json())["lead_id"])
    assert len(lead_ids) == 1
    assert (await rows(api, Contact), await rows(api, Lead), await rows(api, Interaction)) == (1, 1, 3)
    async with api.client.app[SESSIONS]() as session:
        assert await session.scalar(select(Identity.value)) == "+79123456789"
        lead = await session.scalar(select(Lead))
    assert lead.source["utm_source"] == "yandex" and lead.source["form"] == "default"


async def test_json_multipart_and_retries_with_an_idempotency_key(api):
    first = await api.client.post("/forms/default", json={"phone": "+79990001122", "email": "Ivan@Example.RU",
                                                          "message": "json"}, headers={"Idempotency-Key": "k-1"})
    retry = await api.client.post("/forms/default", json={"phone": "+79990001122", "message": "json"},
                                  headers={"Idempotency-Key": "k-1"})
    assert first.status == 201 and retry.status in (200, 201)
    assert (await retry.json())["lead_id"] == (await first.json())["lead_id"] and (await retry.json())["duplicate"]
    import aiohttp

    form = aiohttp.FormData()
    form.add_field("email", "ivan@example.ru")
    form.add_field("message", "multipart, same client by e-mail")
    form.add_field("submission_id", "s-2")
    third = await api.client.post("/forms/default", data=form)
    assert third.status == 201
    assert (await third.json())["lead_id"] == (await first.json())["lead_id"]
    assert await rows(api, Interaction) == 2


async def test_concurrent_duplicate_posts_store_one_interaction(api):
    responses = await asyncio.gather(*(
        api.client.post("/forms/busy", data={"phone": "+79990001122", "submission_id": "same"})
        for _ in range(20)))
    assert {r.status for r in responses} <= {200, 201}
    assert len({(await r.json())["lead_id"] for r in responses}) == 1
    assert await rows(api, Interaction) == 1


async def test_honeypot_and_bad_input_write_nothing(api):
    bot = await api.client.post("/forms/default", data={"phone": "+79990001122", "website": "http://spam"})
    assert bot.status == 201
    bad = await api.client.post("/forms/default", data={"phone": "12", "message": "x"})
    assert bad.status == 422 and (await bad.json())["error"]["field"] == "phone"
    assert (await rows(api, Contact), await rows(api, Interaction)) == (0, 0)


async def test_store_failure_answers_503_and_leaves_nothing_half_written(api):
    async with api.client.app[ENGINE].begin() as connection:
        # Break the store under the running service: contacts can still be written, interactions not.
        # (CASCADE on PostgreSQL: other tables' foreign keys, such as call_facts', name it.)
        cascade = " CASCADE" if connection.dialect.name == "postgresql" else ""
        await connection.execute(text(f"DROP TABLE interactions{cascade}"))
    response = await api.client.post("/forms/default", data={"phone": "+79990001122"})
    assert response.status == 503 and "Retry-After" in response.headers
    assert (await rows(api, Contact), await rows(api, Lead)) == (0, 0)


async def test_a_posted_lead_shows_up_for_a_supervisor_with_its_card(api):
    await api.add_user("boss", Role.SUPERVISOR)
    headers = await api.login("boss")
    posted = await api.client.post("/forms/default", data={"name": "<img src=x onerror=alert(1)>",
                                                           "phone": "+79990001122", "utm_campaign": "winter"})
    lead_id = (await posted.json())["lead_id"]
    card = await (await api.client.get(f"/api/v1/leads/{lead_id}", headers=headers)).json()
    assert card["contact"]["display_name"] == "<img src=x onerror=alert(1)>"   # stored as text, as typed
    assert card["lead"]["source"]["utm_campaign"] == "winter"
    assert card["timeline"][0]["channel"] == "form"
