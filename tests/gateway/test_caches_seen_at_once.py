"""What the process keeps between requests (verified tokens, field requirements, pipeline stages) never hides a
change made through this process's own routes: the next request sees it. And the close of a lead, with those
kept, sends a handful of statements (an upper bound: what the whole loop's rate rests on)."""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from crm_store.models import ApiSession, User
from crm_store.types import Role
from crm_store.users import token_digest
from gateway.keys import HUB, SESSIONS
from gateway.signed_in import TTL, SignedInCache

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def _lead(api, headers: dict[str, str], phone: str) -> str:  # type: ignore[no-untyped-def]
    made = await api.client.post("/api/v1/leads", json={"phone": phone}, headers=headers)
    assert made.status == 201, await made.text()
    return f"/api/v1/leads/{(await made.json())['id']}"


async def test_sign_out_disable_and_role_change_are_seen_by_the_next_request(api):
    await api.add_user("root", Role.ADMIN)
    olga_id = await api.add_user("olga", Role.OPERATOR)
    await api.add_user("ivan", Role.OPERATOR)
    root, olga, ivan = await api.login("root"), await api.login("olga"), await api.login("ivan")
    for headers in (olga, ivan):      # each token checked once: now it is kept
        assert (await api.client.get("/api/v1/me", headers=headers)).status == 200
    assert (await api.client.get("/api/v1/users", headers=olga)).status == 403

    promoted = await api.client.patch(f"/api/v1/users/{olga_id}", json={"role": "supervisor"}, headers=root)
    assert promoted.status == 200, await promoted.text()
    assert (await api.client.get("/api/v1/users", headers=olga)).status == 200

    out = await api.client.post("/api/v1/auth/logout", headers=ivan)
    assert out.status == 200
    assert (await api.client.get("/api/v1/me", headers=ivan)).status == 401

    disabled = await api.client.patch(f"/api/v1/users/{olga_id}", json={"active": False}, headers=root)
    assert disabled.status == 200, await disabled.text()
    assert (await api.client.get("/api/v1/me", headers=olga)).status == 401


async def test_another_processes_sign_out_reaches_this_one_through_the_fan_out(api):
    olga_id = await api.add_user("olga", Role.OPERATOR)
    olga = await api.login("olga")
    assert (await api.client.get("/api/v1/me", headers=olga)).status == 200
    async with api.client.app[SESSIONS]() as session, session.begin():      # what the other process committed
        await session.execute(ApiSession.__table__.delete())
    # ... and what its fan-out delivers here (RedisFanout._deliver -> Hub.disconnect), as for closing sockets.
    await api.client.app[HUB].disconnect(olga_id, token_digest(olga["Authorization"].split()[1]), "signed out")
    assert (await api.client.get("/api/v1/me", headers=olga)).status == 401


def test_a_kept_token_lasts_the_ttl_and_never_past_its_session():
    kept = SignedInCache()
    user = User(id=7, username="olga", display_name="Olga", role="operator", team_id=None, locale="ru",
                must_change_password=False)
    kept.put("long", user, T0 + timedelta(hours=8), T0, kept.generation)
    kept.put("ending", user, T0 + timedelta(seconds=3), T0, kept.generation)
    assert kept.get("long", T0 + TTL - timedelta(seconds=1)).principal.user_id == 7
    assert kept.get("long", T0 + TTL) is None
    assert kept.get("ending", T0 + timedelta(seconds=3)) is None
    generation = kept.generation           # a read began; a sign-out landed before it finished: not kept
    kept.forget_session(token_digest("other"))
    kept.put("late", user, T0 + timedelta(hours=8), T0, generation)
    assert kept.get("late", T0) is None


async def test_admin_password_reset_is_seen_by_the_next_request(api):
    await api.add_user("root", Role.ADMIN)
    olga_id = await api.add_user("olga", Role.OPERATOR)
    root, olga = await api.login("root"), await api.login("olga")
    assert (await api.client.get("/api/v1/me", headers=olga)).status == 200
    reset = await api.client.post(f"/api/v1/users/{olga_id}/password", json={}, headers=root)
    assert reset.status == 200, await reset.text()
    assert (await api.client.get("/api/v1/me", headers=olga)).status == 401


async def test_a_field_made_required_applies_to_the_next_close(api):
    await api.add_user("boss", Role.SUPERVISOR)
    await api.add_user("root", Role.ADMIN)
    boss, root = await api.login("boss"), await api.login("root")
    first, second = await _lead(api, boss, "+79120000001"), await _lead(api, boss, "+79120000002")
    assert (await api.client.patch(first, json={"status": "won"}, headers=boss)).status == 200   # rules now kept

    added = await api.client.post("/api/v1/fields", headers=root, json={
        "entity": "lead", "name": "city", "label": "City", "required": True})
    assert added.status == 201, await added.text()
    refused = await api.client.patch(second, json={"status": "won"}, headers=boss)
    assert refused.status == 422 and (await refused.json())["error"]["field"] == "city"

    relaxed = await api.client.patch(f"/api/v1/fields/{(await added.json())['id']}", json={"required": False},
                                     headers=root)
    assert relaxed.status == 200, await relaxed.text()
    assert (await api.client.patch(second, json={"status": "won"}, headers=boss)).status == 200


async def test_a_stage_rule_changed_by_an_admin_applies_to_the_next_close(api):
    await api.add_user("boss", Role.SUPERVISOR)
    await api.add_user("root", Role.ADMIN)
    boss, root = await api.login("boss"), await api.login("root")
    first, second = await _lead(api, boss, "+79120000001"), await _lead(api, boss, "+79120000002")
    assert (await api.client.patch(first, json={"status": "won"}, headers=boss)).status == 200   # stages now kept

    sales = next(p for p in (await (await api.client.get("/api/v1/pipelines", headers=root)).json())["items"]
                 if p["key"] == "sales")
    won = next(s["id"] for s in sales["stages"] if s["status"] == "won")
    changed = await api.client.patch(f"/api/v1/pipelines/{sales['id']}/stages/{won}", headers=root,
                                     json={"required_fields": ["amount"]})
    assert changed.status == 200, await changed.text()
    refused = await api.client.patch(second, json={"status": "won"}, headers=boss)
    assert refused.status == 422 and (await refused.json())["error"]["field"] == "amount"


async def _one_closed_then_another(api, first_phone: str,  # type: ignore[no-untyped-def]
                                   second_phone: str) -> tuple[dict[str, str], str]:
    """A supervisor's headers and a second lead to close, once a first close kept the token and the rules."""
    await api.add_user("boss", Role.SUPERVISOR)
    boss = await api.login("boss")
    first, second = await _lead(api, boss, first_phone), await _lead(api, boss, second_phone)
    assert (await api.client.patch(first, json={"status": "won"}, headers=boss)).status == 200
    return boss, second


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every statement the requests sent meanwhile: their own reads and the SQLite writer's (which runs their
    writes). Not the background tasks' (a sweeper's read fell into the window on a loaded machine)."""
    sent: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if threading.current_thread().name == "sqlite-writer" or _in_a_request():
            sent.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(Engine, "before_cursor_execute", count)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_closing_a_lead_takes_a_handful_of_statements(api):
    boss, second = await _one_closed_then_another(api, "+79120000001", "+79120000002")
    with statements() as sent:
        closed = await api.client.patch(second, json={"status": "won"}, headers=boss)
    assert closed.status == 200, await closed.text()
    # The writer's BEGIN (shared by a whole group commit under load), the lead with its open routing task in one
    # read, its UPDATE, the stage history, the audit entry: no token, visibility, field definition or stage read
    # (11 before, then 6 with the open task read apart).
    assert len(sent) <= 5 and any(s.startswith("UPDATE leads") for s in sent), sent


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_closing_a_lead_flushes_what_it_writes_and_no_more(api):
    boss, second = await _one_closed_then_another(api, "+79120000003", "+79120000004")
    flushes: list[int] = []

    def flushing(session: Session, *_: Any) -> None:
        flushes.append(len(session.dirty) + len(session.new))

    event.listen(Session, "before_flush", flushing)
    try:
        closed = await api.client.patch(second, json={"status": "won"}, headers=boss)
    finally:
        event.remove(Session, "before_flush", flushing)
    assert closed.status == 200, await closed.text()
    # The lead's UPDATE, its stage change and the audit entry are Core statements (crm_store.lead_patch): no unit
    # of work's pass at all (there were two, one more before that for an updated_at set again to its own value).
    assert flushes == [], flushes


def _in_a_request() -> bool:
    """Whether the asyncio task running now is one aiohttp handles a request in (a task of its own per request)."""
    try:
        task = asyncio.current_task()
    except RuntimeError:        # a thread without a loop
        return False
    return task is not None and getattr(task.get_coro(), "__qualname__", "") == "RequestHandler._handle_request"
