"""Response clocks with the clock in the test's hand: paused after hours, at risk then breached, reassignment on
silence, a forgotten lead's follow-up, and one after-hours answer per conversation."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event, select

from channels.types import Confidence, IdentityClaim, InboundContact
from crm_store.models import Lead, RoutingTask, Task
from crm_store.types import Role
from gateway.app import create_app
from gateway.keys import ENGINE, INTAKE, RESPONDERS, SESSIONS
from gateway.tasks.clocks import _machine
from gateway.tasks.wiring import CLOCKS
from support.gateway_app import Api, make_settings
from support.screens import screen
from test_replies_and_attachments import RecordingResponder
from support.clocks import ManualClock

BERLIN = ZoneInfo("Europe/Berlin")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN).astimezone(UTC)


@pytest.fixture
def clock() -> ManualClock[datetime]:
    return ManualClock(local(2026, 11, 20, 17, 50))       # a Friday, ten minutes before closing


@pytest.fixture
async def api(database_url: str, tmp_path, clock: ManualClock[datetime]) -> AsyncIterator[Api]:  # type: ignore[no-untyped-def]
    weekdays = {day: ["09:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
    clocks = {"default": {"time_zone": "Europe/Berlin", "hours": weekdays, "first_response_minutes": 30,
                          "next_response_minutes": 60, "at_risk_share": 0.8, "reassign_after_minutes": 40,
                          "forgotten_after_hours": 24, "after_hours_channels": ["chat"],
                          "after_hours_answer": "We are closed. We open at {opens_at}."}}
    settings = make_settings(database_url, storage={"dir": str(tmp_path / "files")}, clocks=clocks,
                             routing={"queues": {"default": {"owner_wait_seconds": 0}}},
                             http={"session_hours": 1000})      # the test moves the clock by days
    async with TestClient(TestServer(create_app(settings, clock=clock), host="127.0.0.1")) as client:
        client.app[RESPONDERS]["chat"] = RecordingResponder()
        yield Api(client)


def message(text: str, at: datetime, chat: str = "chat-7") -> InboundContact:
    return InboundContact(channel="chat", event_id=f"chat:{uuid.uuid4().hex}", source_id=chat, received_at=at,
                          name="Анна", text=text, thread_ref=chat,
                          identities=(IdentityClaim("chat", f"user-{chat}", Confidence.VERIFIED),))


async def test_the_clock_pauses_after_hours_goes_at_risk_then_breached_and_the_lead_is_reassigned(api, clock):
    olga = await api.add_user("olga", Role.MANAGER)
    await api.add_user("boss", Role.SUPERVISOR)
    boss = await api.login("boss")
    clock.now = local(2026, 11, 20, 17, 50)
    lead = (await api.client.app[INTAKE].emit(message("Есть в наличии?", clock.now))).lead_id
    assigned = await api.client.patch(f"/api/v1/leads/{lead}", json={"assignee_id": olga}, headers=boss)
    assert assigned.status == 200, await assigned.text()

    async def response() -> dict:
        card = await (await api.client.get(f"/api/v1/leads/{lead}", headers=boss)).json()
        listed = await (await api.client.get("/api/v1/leads", headers=boss)).json()
        assert [x["response"] for x in listed["items"] if x["id"] == lead] == [card["response"]]
        return card["response"]

    clock.now = local(2026, 11, 21, 12, 0)               # Saturday noon: only 10 business minutes have passed
    state = await response()
    assert (state["kind"], state["state"], state["paused"]) == ("first", "ok", True)
    assert state["due_at"] == local(2026, 11, 23, 9, 20).isoformat()
    assert await api.client.app[CLOCKS].sweep() == {"reassigned": 0, "forgotten": 0}
    clock.now = local(2026, 11, 23, 9, 15)               # Monday: 25 of 30 minutes
    assert (await response())["state"] == "at_risk"
    clock.now = local(2026, 11, 23, 9, 21)
    assert (await response())["state"] == "breached"

    async with screen(api, "olga", available=False) as olga_screen:
        clock.now = local(2026, 11, 23, 9, 31)           # 41 business minutes of silence: back to routing
        assert (await api.client.app[CLOCKS].sweep())["reassigned"] == 1
        told = await olga_screen.expect("lead.updated")
        assert told["lead_id"] == lead and told["changes"]["reassigned"].startswith("no answer within 40")
    assert (await api.client.app[CLOCKS].sweep())["reassigned"] == 0          # once per wait
    async with api.client.app[SESSIONS]() as session:
        row = await session.get(Lead, lead)
        waiting = list(await session.scalars(select(RoutingTask).where(RoutingTask.lead_id == lead,
                                                                       RoutingTask.state == "pending")))
    assert row is not None and row.assignee_id is None and len(waiting) == 1 and waiting[0].owner_id is None
    card = await (await api.client.get(f"/api/v1/leads/{lead}", headers=boss)).json()
    assert card["timeline"][-1]["text"].startswith("no answer within 40")          # the history says why


async def test_one_after_hours_answer_per_conversation_and_a_forgotten_lead_gets_a_task(api, clock):
    clock.now = local(2026, 11, 21, 11, 0)               # Saturday
    first = await api.client.app[INTAKE].emit(message("Здравствуйте", clock.now))
    await api.client.app[INTAKE].emit(message("Вы тут?", clock.now + timedelta(minutes=1)))
    await api.client.app[INTAKE].drain()
    sent = api.client.app[RESPONDERS]["chat"].sent
    assert [m.text for m in sent] == ["We are closed. We open at 2026-11-23 09:00."]
    assert _machine(InboundContact(channel="email", event_id="e", source_id="no-reply@shop.example",
                                   received_at=clock.now, identities=()))
    assert not _machine(InboundContact(channel="email", event_id="e", source_id="anna@shop.example",
                                       received_at=clock.now, identities=()))

    olga = await api.add_user("olga", Role.MANAGER)
    await api.add_user("boss", Role.SUPERVISOR)
    boss = await api.login("boss")
    await api.client.patch(f"/api/v1/leads/{first.lead_id}", json={"assignee_id": olga}, headers=boss)
    clock.now = local(2026, 11, 21, 11, 5)
    answered = await api.client.post(f"/api/v1/leads/{first.lead_id}/reply",
                                     json={"text": "Ответим в понедельник"}, headers=await api.login("olga"))
    assert answered.status in (200, 201), await answered.text()       # the client waits for nothing now
    # 24 business hours after Saturday 11:00: Monday and Tuesday 9-18 make 18, Wednesday 9-15 the rest.
    clock.now = local(2026, 11, 25, 14, 59)              # four days of wall-clock idleness, 23.98 business hours
    assert (await api.client.app[CLOCKS].sweep())["forgotten"] == 0
    clock.now = local(2026, 11, 25, 15, 1)
    assert (await api.client.app[CLOCKS].sweep())["forgotten"] == 1
    assert (await api.client.app[CLOCKS].sweep())["forgotten"] == 0
    async with api.client.app[SESSIONS]() as session:
        [task] = list(await session.scalars(select(Task)))
    assert (task.lead_id, task.kind, task.origin, task.assignee_id) == (first.lead_id, "call", "forgotten", olga)
    assert task.note == "no task and no activity for 24 business hours"


async def test_silence_counts_from_the_hand_over_and_each_silent_assignee_is_told(api, clock):
    olga = await api.add_user("olga", Role.MANAGER)
    ivan = await api.add_user("ivan", Role.MANAGER)
    await api.add_user("boss", Role.SUPERVISOR)
    boss = await api.login("boss")
    clock.now = local(2026, 11, 23, 9, 0)                # Monday morning: the client writes
    asked = await api.client.app[INTAKE].emit(message("Когда доставка?", clock.now, chat="chat-9"))
    lead = asked.lead_id
    clock.now = local(2026, 11, 23, 9, 50)               # nobody took it for 50 minutes; then olga gets it
    assert (await api.client.patch(f"/api/v1/leads/{lead}", json={"assignee_id": olga}, headers=boss)).status == 200
    clock.now = local(2026, 11, 23, 10, 20)              # 80 minutes since the message, 30 since the hand-over
    assert (await api.client.app[CLOCKS].sweep())["reassigned"] == 0
    async with screen(api, "olga", available=False) as olga_screen:
        clock.now = local(2026, 11, 23, 10, 31)          # 41 minutes of olga's silence
        assert (await api.client.app[CLOCKS].sweep())["reassigned"] == 1
        told = await olga_screen.expect("lead.updated")
    assert (told["lead_id"], told["changes"]["assignee_id"], told["changes"]["reassigned_after_minutes"]) == \
        (lead, None, 40)
    # The same wait, handed to ivan: his own 40 minutes count from his hand-over, and he is told in turn.
    assert (await api.client.patch(f"/api/v1/leads/{lead}", json={"assignee_id": ivan}, headers=boss)).status == 200
    clock.now = local(2026, 11, 23, 11, 0)
    assert (await api.client.app[CLOCKS].sweep())["reassigned"] == 0
    clock.now = local(2026, 11, 23, 11, 12)
    assert (await api.client.app[CLOCKS].sweep())["reassigned"] == 1
    card = await (await api.client.get(f"/api/v1/leads/{lead}", headers=boss)).json()
    history = [(e["attributes"] or {}).get("from") for e in card["timeline"]
               if (e.get("attributes") or {}).get("action") == "reassigned"]
    assert sorted(history) == sorted([olga, ivan]) and card["lead"]["assignee_id"] is None


async def test_the_lead_list_holds_one_connection_at_a_time(api, clock):
    """Its response clocks are read after its transaction: a second checkout inside it made lists arriving together
    each hold one pooled connection and wait for another, for the pool's whole timeout."""
    await api.add_user("boss", Role.SUPERVISOR)
    boss = await api.login("boss")
    await api.client.app[INTAKE].emit(message("Есть в наличии?", clock.now))
    pool = api.client.app[ENGINE].sync_engine.pool
    held: dict[object, int] = {}
    most: list[int] = []

    def out(_dbapi: object, record, _proxy: object) -> None:  # type: ignore[no-untyped-def]
        task = record.info["test_task"] = asyncio.current_task()
        held[task] = held.get(task, 0) + 1
        most.append(held[task])

    def back(_dbapi: object, record) -> None:  # type: ignore[no-untyped-def]
        task = record.info.pop("test_task", None)
        if task in held:
            held[task] -= 1

    event.listen(pool, "checkout", out)
    event.listen(pool, "checkin", back)
    try:
        listed = await api.client.get("/api/v1/leads", headers=boss)
        assert listed.status == 200, await listed.text()
        [item] = (await listed.json())["items"]
        assert item["response"] is not None       # the clocks were read
    finally:
        event.remove(pool, "checkout", out)
        event.remove(pool, "checkin", back)
    assert most and max(most) == 1
