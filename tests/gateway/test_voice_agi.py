"""Switchboard chooses the phone: FastAGI in the running service, with the store and the routing engine behind it."""
from __future__ import annotations

from typing import Any

import pytest

from crm_store.types import Role
from gateway.keys import ROUTING, SESSIONS
from routing.types import Presence
from support.agi_client import agi_call, answered, environment
from support.postgres_server import free_port

AGI_PORT = free_port()


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"agi": {"port": AGI_PORT}, "routing": {"queues": {"default": {"owner_wait_seconds": 0}}},
            "forms": {"busy": {"rate_per_minute": 100000, "burst": 1000}}}


async def ask(caller: str, fallback: str | None = "109") -> tuple[tuple[str, str], float]:
    env = environment(AGI_PORT, agi_callerid=caller, agi_arg_2=fallback)
    exchange = await agi_call(AGI_PORT, env)
    exten, reason = answered(exchange)
    return (exten.strip('"'), reason.strip('"')), exchange.seconds


async def make_owner(api, user_id: int, phone: str) -> None:  # type: ignore[no-untyped-def]
    from crm_store.models import Contact, Identity
    from sqlalchemy import select

    response = await api.client.post("/forms/busy", data={"phone": phone, "name": "Клиент"})
    assert response.status == 201
    async with api.client.app[SESSIONS]() as session, session.begin():
        contact = await session.scalar(select(Contact).join(Identity).where(Identity.value == phone))
        contact.owner_id = user_id


async def available(api, *user_ids: int) -> None:  # type: ignore[no-untyped-def]
    from crm_store.models import User

    for user_id in user_ids:
        async with api.client.app[SESSIONS]() as session:
            await api.client.app[ROUTING].sync_user(await session.get(User, user_id))   # as a screen's connect does
        await api.client.app[ROUTING].set_presence(user_id, Presence.AVAILABLE, None)


async def test_the_owner_if_free_else_routing_else_the_fallback(api):
    olga = await api.add_user("olga", Role.MANAGER, extension="101")
    pavel = await api.add_user("pavel", Role.OPERATOR, extension="102")
    await api.login("olga")
    await make_owner(api, olga, "+74951234567")

    (exten, reason), seconds = await ask("+74951234567")
    assert (exten, reason) == ("109", "fallback") and seconds < 0.2        # nobody is available yet

    await available(api, olga, pavel)
    (exten, reason), seconds = await ask("84951234567")                    # the same client, dialled nationally
    assert (exten, reason) == ("101", "owner") and seconds < 0.2

    await api.client.app[ROUTING].set_presence(olga, Presence.BREAK, "lunch")
    assert (await ask("+74951234567"))[0] == ("102", "routing")             # the owner is away: routing's pick
    assert (await ask("+74990000000"))[0] == ("102", "routing")             # a stranger: routing's pick

    await api.client.app[ROUTING].set_presence(pavel, Presence.OFFLINE, None)
    assert (await ask("+74990000000", fallback=None))[0] == ("", "none")
