"""Switchboard chooses the phone: FastAGI in the running service, with the store and the routing engine behind it."""
from __future__ import annotations

from typing import Any

import pytest

from crm_store.types import Role
from gateway.keys import ROUTING, SESSIONS
from routing.types import Presence
from support.agi_client import agi_call, answered, environment
from support.postgres_server import free_port


@pytest.fixture
def agi_port() -> int:
    """Per test, not per module: a port released between tests is up for grabs by the other parallel workers."""
    return free_port()


@pytest.fixture
def settings_overrides(agi_port: int) -> dict[str, Any]:
    # A roomy budget: on a busy machine the chooser may take longer than the dialplan's 150 ms, and then the
    # answer would be the fallback; the budget itself is tested in tests/channels/asterisk/test_agi_route.py.
    return {"agi": {"port": agi_port, "budget_seconds": 60},
            "routing": {"queues": {"default": {"owner_wait_seconds": 0}}},
            "forms": {"busy": {"rate_per_minute": 100000, "burst": 1000}}}


async def ask(port: int, caller: str, fallback: str | None = "109") -> tuple[str, str]:
    env = environment(port, agi_callerid=caller, agi_arg_2=fallback)
    exten, reason = answered(await agi_call(port, env))
    return exten.strip('"'), reason.strip('"')


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


async def test_the_owner_if_free_else_routing_else_the_fallback(api, agi_port):
    olga = await api.add_user("olga", Role.MANAGER, extension="101")
    pavel = await api.add_user("pavel", Role.OPERATOR, extension="102")
    await api.login("olga")
    await make_owner(api, olga, "+74951234567")

    assert await ask(agi_port, "+74951234567") == ("109", "fallback")      # nobody is available yet

    await available(api, olga, pavel)
    assert await ask(agi_port, "84951234567") == ("101", "owner")         # the same client, dialled nationally

    await api.client.app[ROUTING].set_presence(olga, Presence.BREAK, "lunch")
    assert await ask(agi_port, "+74951234567") == ("102", "routing")       # the owner is away: routing's pick
    assert await ask(agi_port, "+74990000000") == ("102", "routing")       # a stranger: routing's pick

    await api.client.app[ROUTING].set_presence(pavel, Presence.OFFLINE, None)
    assert await ask(agi_port, "+74990000000", fallback=None) == ("", "none")
