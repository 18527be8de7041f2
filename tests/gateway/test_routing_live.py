"""Live routing over the real websocket hub: offers pop, accept assigns, decline and silence re-offer."""
from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import event, select

from crm_store.models import Lead, Reservation
from crm_store.types import Role
from support.screens import Screen, screen
from gateway.keys import ENGINE, SESSIONS
from gateway.notifier import Notifier

pytestmark = pytest.mark.usefixtures("routing_backend")


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def routing_backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def timers() -> dict[str, float]:
    """Long: no test has to beat a timer, however busy the machine; a test that waits for one sets it short."""
    return {"offer_timeout": 120, "disconnect_grace_seconds": 60}


# Only for tests that wait for the timer to play out, and pass whatever happens before it does.
SHORT_TIMERS = pytest.mark.parametrize("timers", [{"offer_timeout": 0.6, "disconnect_grace_seconds": 0.3}],
                                       ids=["short-timers"])


@pytest.fixture
def settings_overrides(routing_backend: str, timers: dict[str, float], request: pytest.FixtureRequest) -> dict[str, Any]:
    sections: dict[str, Any] = {
        "routing": {"queues": {"default": {"offer_timeout": timers["offer_timeout"], "owner_wait_seconds": 0,
                                           "round_pause_seconds": timers.get("round_pause_seconds", 5)}},
                    "disconnect_grace_seconds": timers["disconnect_grace_seconds"], "missed_offers_limit": 5},
        "forms": {"busy": {"rate_per_minute": 100000, "burst": 1000}},
    }
    if routing_backend == "redis":
        sections["redis"] = {"url": request.getfixturevalue("redis_url"), "prefix": f"t{uuid.uuid4().hex}:"}
    return sections


async def first_offer(*screens: Screen) -> tuple[Screen, dict[str, Any]]:
    """The screen that got an offer first, and the offer."""
    waits = {asyncio.create_task(s.expect("offer.created")): s for s in screens}
    done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    task = done.pop()
    return waits[task], task.result()


async def post_form(api, phone: str, **extra: str) -> int:  # type: ignore[no-untyped-def]
    response = await api.client.post("/forms/busy", data={"phone": phone, "name": "Client", **extra})
    assert response.status == 201, await response.text()
    return (await response.json())["lead_id"]


async def test_offer_pops_with_the_card_and_accept_assigns_the_lead(api):
    olga = await api.add_user("olga", Role.MANAGER)
    async with screen(api, "olga") as s:
        lead_id = await post_form(api, "+79123456789", message="<b>hi</b>", utm_source="ads")
        offer = await s.expect("offer.created")
        assert offer["lead_id"] == lead_id
        assert offer["card"]["contact"]["identities"][0]["value"] == "+79123456789"
        assert offer["card"]["lead"]["source"]["utm_source"] == "ads"
        assert offer["card"]["timeline"][0]["text"] == "<b>hi</b>"
        await s.send("offer.accept", offer_id=offer["offer_id"])
        assigned = await s.expect("lead.assigned")
        assert assigned["lead_id"] == lead_id and assigned["card"]["lead"]["assignee_id"] == olga
    async with api.client.app[SESSIONS]() as session:
        lead = await session.get(Lead, lead_id)
        outcomes = list(await session.scalars(select(Reservation.outcome)))
    assert lead.assignee_id == olga and lead.status == "assigned"
    assert outcomes == ["accepted"]


async def test_decline_goes_to_the_next_agent(api):
    await api.add_user("olga", Role.MANAGER)
    await api.add_user("petr", Role.MANAGER)
    async with screen(api, "olga") as olga, screen(api, "petr") as petr:
        lead_id = await post_form(api, "+79123456789")
        who, offer = await first_offer(olga, petr)
        other = petr if who is olga else olga
        assert offer["lead_id"] == lead_id
        await who.send("offer.decline", offer_id=offer["offer_id"])
        re_offer = await other.expect("offer.created")
        assert re_offer["lead_id"] == lead_id


@pytest.mark.parametrize("timers", [{"offer_timeout": 120, "disconnect_grace_seconds": 60, "round_pause_seconds": 0}],
                         ids=["no-round-pause"])
async def test_a_lone_agent_who_declined_is_asked_again_in_a_new_round(api):
    await api.add_user("olga", Role.MANAGER)
    async with screen(api, "olga") as olga:
        lead_id = await post_form(api, "+79123456789")
        offer = await olga.expect("offer.created")
        await olga.send("offer.decline", offer_id=offer["offer_id"])
        again = await olga.expect("offer.created")      # nobody else: the queue's next round, at once
        assert again["lead_id"] == lead_id and again["offer_id"] != offer["offer_id"]
    async with api.client.app[SESSIONS]() as session:
        rows = (await session.execute(select(Reservation.outcome, Reservation.explanation)
                                      .order_by(Reservation.created_at))).all()
    assert [(outcome, why["round"]) for outcome, why in rows] == [("rejected", 1), ("pending", 2)]


@SHORT_TIMERS
async def test_silence_times_the_offer_out(api):
    await api.add_user("olga", Role.MANAGER)
    async with screen(api, "olga") as olga:
        lead_id = await post_form(api, "+79123456789")
        offer = await olga.expect("offer.created", keep_others=True)
        assert offer["lead_id"] == lead_id
        # The agent stays silent: the offer times out and is withdrawn from the screen.
        cancelled = await olga.expect("offer.cancelled")
        assert cancelled["reason"] == "timeout" and cancelled["offer_id"] == offer["offer_id"]


@SHORT_TIMERS
async def test_a_dropped_socket_hands_its_offer_back_after_the_grace_period(api):
    await api.add_user("olga", Role.MANAGER)
    await api.add_user("petr", Role.MANAGER)
    async with screen(api, "petr", available=False) as petr:
        async with screen(api, "olga") as olga:
            lead_id = await post_form(api, "+79123456789")
            assert (await olga.expect("offer.created"))["lead_id"] == lead_id
        # olga's socket is gone; petr becomes available and gets the lead once her grace period ends.
        await petr.send("presence.set", presence="available")
        offer = await petr.expect("offer.created")
        assert offer["lead_id"] == lead_id


async def test_a_reconnecting_screen_gets_its_pending_offer_again(api):
    await api.add_user("olga", Role.MANAGER)
    async with screen(api, "olga") as olga:
        lead_id = await post_form(api, "+79123456789")
        offer = await olga.expect("offer.created")
    async with screen(api, "olga", available=False) as again:     # back within the grace period
        resent = await again.expect("offer.created")
        assert resent["offer_id"] == offer["offer_id"] and resent["lead_id"] == lead_id
        await again.send("offer.accept", offer_id=offer["offer_id"])
        assert (await again.expect("lead.assigned"))["lead_id"] == lead_id
    async with screen(api, "olga", available=False) as third:      # and its work, after accepting
        resent = await third.expect("lead.assigned")
        assert resent["lead_id"] == lead_id and resent["card"]["lead"]["assignee_id"] is not None


async def test_a_reconnecting_screen_is_sent_its_work_with_no_connection_held(api, monkeypatch):
    """The replayed frames go out after the cards are read and the connection given back: held across the socket
    writes, a crowd of screens reconnecting together (a restart) would each keep one and drain the pool."""
    await api.add_user("olga", Role.MANAGER)
    async with screen(api, "olga") as olga:
        lead_id = await post_form(api, "+79123456789")
        offer = await olga.expect("offer.created")
        await olga.send("offer.accept", offer_id=offer["offer_id"])
        await olga.expect("lead.assigned")
        await post_form(api, "+79123456790")
        second = await olga.expect("offer.created")
    pool = api.client.app[ENGINE].sync_engine.pool
    held: dict[object, int] = {}
    while_sending: list[int] = []

    def out(_dbapi: object, record, _proxy: object) -> None:  # type: ignore[no-untyped-def]
        task = record.info["test_task"] = asyncio.current_task()
        held[task] = held.get(task, 0) + 1

    def back(_dbapi: object, record) -> None:  # type: ignore[no-untyped-def]
        task = record.info.pop("test_task", None)
        if task in held:
            held[task] -= 1

    for name in ("offer_created", "lead_assigned"):
        async def sending(self, *args, _original=getattr(Notifier, name), **kwargs):  # type: ignore[no-untyped-def]
            while_sending.append(held.get(asyncio.current_task(), 0))
            return await _original(self, *args, **kwargs)
        monkeypatch.setattr(Notifier, name, sending)
    event.listen(pool, "checkout", out)
    event.listen(pool, "checkin", back)
    try:
        async with screen(api, "olga", available=False) as again:
            assert (await again.expect("offer.created"))["offer_id"] == second["offer_id"]
            assert (await again.expect("lead.assigned"))["lead_id"] == lead_id
    finally:
        event.remove(pool, "checkout", out)
        event.remove(pool, "checkin", back)
    assert len(while_sending) >= 2 and max(while_sending) == 0


async def test_wrong_or_stale_accepts_get_an_error_frame(api):
    await api.add_user("olga", Role.MANAGER)
    await api.add_user("petr", Role.MANAGER)
    async with screen(api, "olga") as olga, screen(api, "petr", available=False) as petr:
        await post_form(api, "+79123456789")
        offer = await olga.expect("offer.created")
        await petr.send("offer.accept", offer_id=offer["offer_id"])          # not petr's offer
        assert (await petr.expect("error"))["code"] == "routing"
        await olga.send("offer.accept", offer_id="no-such-offer")
        assert (await olga.expect("error"))["code"] == "routing"
        await olga.send("offer.accept")
        assert (await olga.expect("error"))["code"] == "invalid"


async def test_supervisor_sees_queue_stats_move(api):
    await api.add_user("olga", Role.MANAGER)
    await api.add_user("boss", Role.SUPERVISOR)
    headers = await api.login("boss")
    async with screen(api, "boss", available=False) as board:
        first = await board.expect("queue.stats")
        assert first["queues"]["default"]["waiting"] == 0
        await post_form(api, "+79123456789")
        await post_form(api, "+79123450000")
        for _ in range(10):
            stats = await board.expect("queue.stats")
            if stats["queues"]["default"]["waiting"] == 2:
                break
        assert stats["queues"]["default"]["waiting"] == 2
    response = await api.client.get("/api/v1/queues/stats", headers=headers)
    body = await response.json()
    assert body["queues"]["default"]["waiting"] == 2 and body["queues"]["default"]["entered_today"] == 2
    # The supervisor watching takes no work: not an agent on the wallboard.
    assert [r for r in body["agents"] if r["display_name"] == "boss"] == []


async def test_closing_a_lead_frees_the_agent_for_the_next_task(api):
    await api.add_user("olga", Role.MANAGER, capacity={"email": 1})
    headers = await api.login("olga")
    async with screen(api, "olga") as olga:
        first = await post_form(api, "+79123456789")
        second = await post_form(api, "+79123450000")
        offer = await olga.expect("offer.created")
        assert offer["lead_id"] == first
        await olga.send("offer.accept", offer_id=offer["offer_id"])
        await olga.expect("lead.assigned")
        assert await olga.quiet("offer.created", 0.3)            # capacity 1: the second waits
        await api.client.patch(f"/api/v1/leads/{first}", headers=headers,
                               json={"status": "won"})
        nxt = await olga.expect("offer.created")
        assert nxt["lead_id"] == second
    routing = await (await api.client.get(f"/api/v1/leads/{first}/routing", headers=headers)).json()
    [task] = routing["tasks"]
    assert task["state"] == "completed" and task["offers"][0]["outcome"] == "accepted"
    assert task["offers"][0]["explanation"]["policy"] == "longest_idle"


async def test_the_assignee_sees_changes_others_make_to_their_lead(api):
    olga = await api.add_user("olga", Role.MANAGER)
    await api.add_user("boss", Role.SUPERVISOR)
    boss = await api.login("boss")
    async with screen(api, "olga", available=False) as s:
        lead_id = await post_form(api, "+79123456789")
        await api.client.patch(f"/api/v1/leads/{lead_id}", json={"assignee_id": olga}, headers=boss)
        update = await s.expect("lead.updated")
        assert update["lead_id"] == lead_id and update["changes"]["assignee_id"] == [None, olga]


async def test_a_lead_assigned_by_hand_is_no_longer_offered(api):
    olga = await api.add_user("olga", Role.MANAGER)
    await api.add_user("petr", Role.MANAGER)
    await api.add_user("boss", Role.SUPERVISOR)
    boss = await api.login("boss")
    lead_id = await post_form(api, "+79123456789")          # nobody available: the task waits
    response = await api.client.patch(f"/api/v1/leads/{lead_id}", json={"assignee_id": olga}, headers=boss)
    assert response.status == 200
    async with screen(api, "petr") as petr:
        assert await petr.quiet("offer.created", 0.5)
    routing = await (await api.client.get(f"/api/v1/leads/{lead_id}/routing", headers=boss)).json()
    assert [t["state"] for t in routing["tasks"]] == ["canceled"]
