"""The routing driver's loose ends: an engine call it was handed but never ran (cancelled while waiting its turn,
as a shutdown cancels the driver's background steps) is closed, not left for a 'never awaited' warning; a
contact whose task another path routed first is no failure."""
from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, datetime

from sqlalchemy import select

from channels.types import Confidence, IdentityClaim, InboundContact
from crm_store.models import RoutingTask
from crm_store.types import IngestResult, Role
from gateway.keys import INTAKE, ROUTING, SESSIONS
from routing.events import RoutingOutcome
from support.screens import screen
from test_replies_and_attachments import chat_message


async def test_a_call_cancelled_while_waiting_its_turn_is_closed(api):
    driver = api.client.app[ROUTING]
    release, entered = asyncio.Event(), asyncio.Event()

    async def holding() -> RoutingOutcome:
        entered.set()
        await release.wait()
        return RoutingOutcome()

    first = asyncio.create_task(driver.run(holding()))
    await entered.wait()                                  # the first call holds the driver's turn
    call = driver.engine.expire_due()
    waiting = asyncio.create_task(driver.run(call))
    while inspect.getcoroutinestate(waiting.get_coro()) == inspect.CORO_CREATED:
        await asyncio.sleep(0)                            # until it waits for the turn
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert waiting.cancelled()
    assert inspect.getcoroutinestate(call) == inspect.CORO_CLOSED     # was CORO_CREATED: warned at collection
    release.set()
    await first


async def test_a_contact_whose_task_was_restored_first_is_not_a_failure(api):
    # A starting process (or the sweeper) reads the committed row and routes it before the intake's own
    # listener gets to it: the listener finds the task there, and that is no error; one offer all the same.
    await api.add_user("olga", Role.MANAGER)
    driver = api.client.app[ROUTING]
    async with screen(api, "olga") as olga:
        accepted = await api.client.app[INTAKE].emit(chat_message("Здравствуйте"))
        offer = await olga.expect("offer.created")
        async with api.client.app[SESSIONS]() as session:
            row = await session.scalar(select(RoutingTask).where(RoutingTask.lead_id == accepted.lead_id))
        result = IngestResult(accepted.lead_id, accepted.contact_id, accepted.interaction_id, True, True,
                              task_id=row.id, task_queue=row.queue, task_channel=row.channel)
        await driver.on_contact(chat_message("Здравствуйте"), result)       # raised RoutingError before
        assert [(o.id, o.task_id) for o in (await driver.snapshot()).offers] == [(offer["offer_id"], row.id)]


async def test_the_new_leads_of_one_group_commit_are_routed_in_one_call(api):
    # Posted together, they share a commit and wake in one turn: routing is told of them all at once (one
    # engine call), each once, and holds every one's task.
    intake = api.client.app[INTAKE]
    told: list[list[int]] = []

    async def record(committed: list[tuple[InboundContact, IngestResult]]) -> None:
        told.append([result.lead_id for _, result in committed])

    intake.subscribe_batch(record)
    contacts = [InboundContact("chat", f"chat:new-{i}", f"chat-{i}", datetime.now(UTC), name=f"Client {i}",
                               text="Здравствуйте", identities=(IdentityClaim("chat", f"user-{i}", Confidence.VERIFIED),))
                for i in range(5)]
    accepted = await asyncio.gather(*(intake.emit(c) for c in contacts))
    await intake.drain()
    assert told == [[a.lead_id for a in accepted]]
    async with api.client.app[SESSIONS]() as session:
        stored = set(await session.scalars(select(RoutingTask.id).where(
            RoutingTask.lead_id.in_([a.lead_id for a in accepted]))))
    assert {t.task.id for t in (await api.client.app[ROUTING].snapshot()).tasks} == stored
    assert len(stored) == 5
