"""Search that finds people, through the HTTP API, on SQLite and PostgreSQL alike."""
from __future__ import annotations

from typing import Any

import pytest

from crm_store.types import Role


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"forms": {"busy": {"rate_per_minute": 100000, "burst": 1000}}}


async def post_form(api, **data: str) -> int:  # type: ignore[no-untyped-def]
    response = await api.client.post("/forms/busy", data=data)
    assert response.status == 201, await response.text()
    return (await response.json())["lead_id"]


@pytest.fixture
async def people(api) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    await api.add_user("boss", Role.SUPERVISOR)
    headers = await api.login("boss")
    ids = {
        "armen": await post_form(api, name="Армен Петросян", phone="+37491123456", message="Нужна доставка"),
        "fedor": await post_form(api, name="Фёдор Ёлкин", phone="+79123456789", email="fedor@example.ru"),
        "zoe": await post_form(api, name="Zoë Ågren-Müller", email="zoe@example.se", message="Crème brûlée order"),
        "fedor_fan": await post_form(api, name="Friend of fedor@example.ru", phone="+79990001122"),
    }
    return {"headers": headers, "ids": ids}


async def found(api, people, q: str) -> list[int]:  # type: ignore[no-untyped-def]
    response = await api.client.get("/api/v1/leads", params={"q": q}, headers=people["headers"])
    assert response.status == 200, await response.text()
    return [item["id"] for item in (await response.json())["items"]]


@pytest.mark.parametrize("q", ["Петросян", "петросян", "ПЕТРОСЯН", "армен петр"])
async def test_cyrillic_names_in_any_case(api, people, q):
    assert await found(api, people, q) == [people["ids"]["armen"]]


@pytest.mark.parametrize("q", ["Федор", "фёдор", "елкин", "ЁЛКИН"])
async def test_yo_is_ye(api, people, q):
    assert await found(api, people, q) == [people["ids"]["fedor"]]


@pytest.mark.parametrize("q", ["zoe", "ZOË", "agren", "muller", "Müller", "creme brulee", "доставка"])
async def test_latin_diacritics_and_message_text(api, people, q):
    expected = people["ids"]["armen"] if q == "доставка" else people["ids"]["zoe"]
    assert await found(api, people, q) == [expected]


@pytest.mark.parametrize("q", ["+7 912 345-67-89", "8 (912) 345 67 89", "79123456789", "345-67-89", "9123456789"])
async def test_phones_in_any_spelling(api, people, q):
    assert await found(api, people, q) == [people["ids"]["fedor"]]


async def test_exact_email_ranks_before_a_mere_mention_and_closed_leads_are_found(api, people):
    ids = people["ids"]
    assert await found(api, people, "FEDOR@example.ru") == [ids["fedor"], ids["fedor_fan"]]
    closed = await api.client.patch(f"/api/v1/leads/{ids['zoe']}", json={"status": "lost", "lost_reason": "price"},
                                    headers=people["headers"])
    assert closed.status == 200
    assert await found(api, people, "Ågren") == [ids["zoe"]]
    noted = await api.client.patch(f"/api/v1/leads/{ids['armen']}", json={"notes": "Позвонить в СРЕДУ"},
                                   headers=people["headers"])
    assert noted.status == 200
    assert await found(api, people, "среду") == [ids["armen"]]
    assert await found(api, people, "nobody-like-this") == []
    assert await found(api, people, "1%") == []


async def test_messenger_ids_are_found(api):
    from channels.types import Confidence, IdentityClaim, InboundContact
    from crm_store.ingest import utcnow
    from gateway.keys import INTAKE

    await api.add_user("boss", Role.SUPERVISOR)
    headers = await api.login("boss")
    accepted = await api.client.app[INTAKE].emit(InboundContact(
        channel="telegram", event_id="u1", source_id="4242", received_at=utcnow(), text="hi",
        identities=(IdentityClaim("telegram", "TgUser_4242", Confidence.VERIFIED),)))
    response = await api.client.get("/api/v1/leads", params={"q": "tguser_42"}, headers=headers)
    assert [i["id"] for i in (await response.json())["items"]] == [accepted.lead_id]
