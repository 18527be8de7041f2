"""Reminders with the clock in the test's hand: two processes on one database deliver each reminder once, the
timer is rebuilt from the database at start, and a signed-out assignee gets one e-mail with a link to the lead."""
from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from crm_store.models import AuditEntry
from crm_store.types import Role
from gateway.app import create_app
from gateway.keys import INTAKE, SESSIONS
from gateway.tasks.wiring import REMINDERS
from support.gateway_app import Api, make_settings
from support.mail_relay import running_relay
from support.screens import screen
from test_replies_and_attachments import chat_message
from support.clocks import ManualClock

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@contextlib.asynccontextmanager
async def process(database_url: str, tmp_path, clock: ManualClock[datetime], **sections) -> AsyncIterator[Api]:  # type: ignore[no-untyped-def]
    # A long recheck: the test decides when each process looks at the database again.
    settings = make_settings(database_url, storage={"dir": str(tmp_path / "files")},
                             tasks={"recheck_seconds": 3600, "public_url": "https://crm.example"}, **sections)
    async with TestClient(TestServer(create_app(settings, clock=clock), host="127.0.0.1")) as client:
        yield Api(client)


async def reminded(api: Api) -> list[tuple[int | None, dict]]:
    async with api.client.app[SESSIONS]() as session:
        return [(a.user_id, a.detail) for a in await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "task.reminded").order_by(AuditEntry.id))]


@pytest.mark.redis
async def test_a_reminder_fires_once_across_two_processes_and_survives_a_restart(database_url, tmp_path, redis_url):
    clock = ManualClock(T0)
    # Two processes share screens through Redis, as in production: a frame from either reaches the screen.
    shared = {"redis": {"url": redis_url, "prefix": f"t{uuid.uuid4().hex}:"}}
    async with process(database_url, tmp_path, clock, **shared) as first:
        olga = await first.add_user("olga", Role.MANAGER)
        await first.add_user("boss", Role.SUPERVISOR)
        headers = await first.login("boss")
        lead = (await first.client.app[INTAKE].emit(chat_message("Позвоните завтра"))).lead_id
        made = await first.client.post("/api/v1/tasks", json={"lead_id": lead, "kind": "call", "due": "in_1h",
                                                              "note": "про доставку", "assignee_id": olga},
                                       headers=headers)
        assert made.status == 201, await made.text()
        task_id = (await made.json())["id"]
        assert len(first.client.app[REMINDERS]) == 1
    # The first process stopped before the task was due; two processes start and rebuild their timers.
    async with process(database_url, tmp_path, clock, **shared) as a, \
            process(database_url, tmp_path, clock, **shared) as b:
        assert len(a.client.app[REMINDERS]) == len(b.client.app[REMINDERS]) == 1
        async with screen(b, "olga") as olga_screen:
            assert await a.client.app[REMINDERS].fire_due() == 0          # not due yet
            clock.now = T0 + timedelta(hours=1, seconds=1)
            fired = await asyncio.gather(a.client.app[REMINDERS].fire_due(), b.client.app[REMINDERS].fire_due(),
                                         a.client.app[REMINDERS].fire_due())
            assert sorted(fired) == [0, 0, 1]
            frame = await olga_screen.expect("task.due")
            assert (frame["task_id"], frame["lead_id"], frame["kind"], frame["note"]) == (task_id, lead, "call",
                                                                                          "про доставку")
            assert frame["link"] == f"https://crm.example/?lead={lead}"
            await b.client.app[REMINDERS].load()                            # a restart's reload: nothing left
            assert len(b.client.app[REMINDERS]) == 0 and await b.client.app[REMINDERS].fire_due() == 0
            assert await olga_screen.quiet("task.due", 0.3)
        assert await reminded(a) == [(olga, {"task_id": task_id, "via": "console", "error": None})]


async def test_a_signed_out_assignee_gets_one_email_with_a_link_to_the_lead(database_url, tmp_path):
    clock = ManualClock(T0)
    async with running_relay() as relay:
        email = {"smtp_host": "127.0.0.1", "smtp_port": relay.port, "starttls": False,
                 "from_address": "crm@shop.example"}
        async with process(database_url, tmp_path, clock, email=email) as api:
            ivan = await api.add_user("ivan", Role.MANAGER, locale="ru")
            headers = await api.login("ivan")
            changed = await api.client.patch("/api/v1/me", json={"remind_via": "email", "email": "ivan@shop.example",
                                                                 "time_zone": "Europe/Moscow"}, headers=headers)
            assert changed.status == 200, await changed.text()
            lead = (await api.client.app[INTAKE].emit(chat_message("Нужна встреча"))).lead_id
            await api.add_user("boss", Role.SUPERVISOR)
            boss = await api.login("boss")
            assigned = await api.client.patch(f"/api/v1/leads/{lead}", json={"assignee_id": ivan}, headers=boss)
            assert assigned.status == 200, await assigned.text()
            made = await api.client.post("/api/v1/tasks", json={"lead_id": lead, "kind": "meeting",
                                                                "due_at": "2026-11-02T13:00:00"}, headers=headers)
            assert (await made.json())["due_at"] == "2026-11-02T10:00:00+00:00"       # 13:00 in Moscow
            clock.now = T0 + timedelta(hours=2)
            assert await api.client.app[REMINDERS].fire_due() == 1
            assert await api.client.app[REMINDERS].fire_due() == 0
            [raw] = relay.received
            mail = message_from_bytes(raw, policy=default_policy)
            assert mail["To"] == "ivan@shop.example"
            body = mail.get_content()
            assert f"https://crm.example/?lead={lead}" in body and "2026-11-02 13:00" in body and "Задача" in body
            assert await reminded(api) == [(ivan, {"task_id": (await made.json())["id"], "via": "email",
                                                   "error": None})]


async def test_who_is_signed_in_is_asked_outside_the_claiming_transaction(database_url, tmp_path):
    clock = ManualClock(T0)
    async with process(database_url, tmp_path, clock) as api:
        olga = await api.add_user("olga", Role.MANAGER)
        await api.add_user("boss", Role.SUPERVISOR)
        headers = await api.login("boss")
        lead = (await api.client.app[INTAKE].emit(chat_message("Перезвоните"))).lead_id
        made = await api.client.post("/api/v1/tasks", json={"lead_id": lead, "kind": "call", "due": "in_1h",
                                                            "assignee_id": olga}, headers=headers)
        assert made.status == 201, await made.text()
        timer = api.client.app[REMINDERS]
        # The timer's sessions and its presence lookup, watched: was a transaction of its own open at the lookup?
        opened, held = [], []
        sessions, present = timer._sessions, timer._deliver.present

        def watched_sessions():  # type: ignore[no-untyped-def]
            session = sessions()
            opened.append(session)
            return session

        async def watched_present(user_ids: set[int]) -> set[int]:
            held.append(any(s.in_transaction() for s in opened))
            return await present(user_ids)
        timer._sessions, timer._deliver.present = watched_sessions, watched_present
        async with screen(api, "olga"):
            clock.now = T0 + timedelta(hours=1, seconds=1)
            assert await timer.fire_due() == 1
        assert held == [False]
        assert await reminded(api) == [(olga, {"task_id": (await made.json())["id"], "via": "console", "error": None})]
