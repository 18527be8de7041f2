"""Call records and the callbacks they owe, written in groups through the ingest writer; the pop card read."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from sqlalchemy.exc import IntegrityError

from crm_store import call_grants, calls, routing_log, users
from crm_store.call_records import Callback, CallRecord, CallRecords, Written, write_records
from crm_store.ingest import Ingestor
from crm_store.lead_cards import LeadCards, RoutedCards
from crm_store.models import AuditEntry, Interaction, Lead, RoutingTask
from crm_store.types import Role, Viewer
from factories import T0, phone, request

EVERYONE = Viewer(user_id=0, role=Role.ADMIN, team_id=None)


@pytest.fixture
async def ingestor(engine):  # type: ignore[no-untyped-def]
    async with Ingestor(engine, clock=lambda: T0) as running:
        yield running


async def a_call(ingestor: Ingestor, number: str = "+74951234567"):  # type: ignore[no-untyped-def]
    return await ingestor.ingest(request(phone(number), channel="voice"))


async def test_a_missed_call_owes_one_callback_a_second_collapses_into_it_an_answer_settles_it(ingestor, sessions):
    async with sessions() as s, s.begin():
        olga = await users.create_user(s, users.NewUser("olga", "correct horse", Role.OPERATOR), T0)
    first, second, third = [await a_call(ingestor) for _ in range(3)]
    records = CallRecords(ingestor)
    missed = Callback("default", 1, T0)

    owed = await records.write(CallRecord("c1", first.lead_id, first.interaction_id, {"outcome": "missed"},
                                          pops=((olga.id, "101", T0),), callback=missed))
    assert owed.new_callback == routing_log.task_id_for(first.lead_id, first.interaction_id)
    again = await records.write(CallRecord("c2", second.lead_id, second.interaction_id, {"outcome": "missed"},
                                           callback=missed))
    assert again.collapsed_into == owed.new_callback and again.new_callback is None
    answered = await records.write(CallRecord("c3", third.lead_id, third.interaction_id, {"outcome": "answered"},
                                              settles=True))
    assert answered.settled == owed.new_callback

    async with sessions() as s:
        calls = {i.id: i.attributes for i in await s.scalars(select(Interaction))}
        tasks = list(await s.scalars(select(RoutingTask)))
        pops = list(await s.scalars(select(AuditEntry).where(AuditEntry.action == "lead.popped")))
    assert calls[first.interaction_id] == {"outcome": "missed", "callback_task": owed.new_callback,
                                           "callback_collapsed": False}
    assert calls[second.interaction_id]["callback_collapsed"] is True
    assert calls[third.interaction_id]["outcome"] == "answered"
    assert not {"callback_task", "callback_collapsed"} & set(calls[third.interaction_id])
    assert [(t.id, t.kind, t.channel, t.queue, t.priority) for t in tasks] == [
        (owed.new_callback, "callback", "voice", "default", 1)]
    assert [(p.user_id, p.lead_id, p.detail) for p in pops] == [(olga.id, first.lead_id, {"call_id": "c1", "extension": "101"})]


async def test_calls_ending_together_are_one_transaction_and_still_owe_one_callback(ingestor, sessions):
    calls = [await a_call(ingestor) for _ in range(4)]
    records = CallRecords(ingestor)
    batches = ingestor.batches
    written = await asyncio.gather(*(records.write(CallRecord(f"c{n}", c.lead_id, c.interaction_id, {},
                                                              callback=Callback("default", 1, T0)))
                                     for n, c in enumerate(calls)))
    assert ingestor.batches - batches <= 2                   # the first write goes alone, the rest wait and join
    assert sum(w.new_callback is not None for w in written) == 1
    assert {w.collapsed_into for w in written if w.new_callback is None} == {written[0].new_callback}


async def test_the_pop_card_is_read_on_each_engine_and_is_none_once_gone(ingestor, database_url, sessions):
    call = await a_call(ingestor)
    cards = LeadCards(database_url, sessions)
    try:
        shaped = await cards.read(EVERYONE, call.lead_id, 20, lambda card: (card.lead.id, len(card.timeline),
                                                                            [i.value for i in card.identities]))
        assert shaped == (call.lead_id, 1, ["+74951234567"])
        assert await cards.read(EVERYONE, call.lead_id + 1000, 20, lambda card: card) is None
    finally:
        cards.close()


async def test_the_cards_of_calls_starting_together_are_read_together_each_as_read_alone(
        ingestor, database_url, sessions):
    rung = [await a_call(ingestor, f"+7495765432{n}") for n in range(3)]

    def shape(card):  # type: ignore[no-untyped-def]
        rows = card.summary_rows
        return (card.lead.id, [i.id for i in card.timeline], [i.value for i in card.identities],
                [d.id for d in rows.deals], [i.id for i in rows.recent], rows.seen)

    alone, together = LeadCards(database_url, sessions), RoutedCards(database_url, sessions, 20, shape)
    try:
        expected = [await alone.read(EVERYONE, c.lead_id, 20, shape) for c in rung]
        found = await asyncio.gather(*(together.read(c.lead_id) for c in rung), together.read(rung[-1].lead_id + 1000))
        assert found == [*expected, None] and together.reads == 1        # four cards asked at once, one read
    finally:
        alone.close()
        await together.close()


async def test_answering_takes_the_lead_a_click_to_call_leaves_a_colleagues_lead_theirs(ingestor, sessions):
    from crm_store import calls
    from crm_store.models import Contact, Lead, Reservation
    async with sessions() as s, s.begin():
        olga = await users.create_user(s, users.NewUser("olga", "correct horse", Role.OPERATOR), T0)
        pavel = await users.create_user(s, users.NewUser("pavel", "correct horse", Role.OPERATOR), T0)
    call = await a_call(ingestor)
    take = ingestor.run_write
    assert await take(lambda s: calls.take_call(s, call.lead_id, olga.id, "c1", rang_at=T0, at=T0, reassign=True))
    assert await take(lambda s: calls.take_call(s, call.lead_id, pavel.id, "c2", rang_at=T0, at=T0, reassign=False))
    async with sessions() as s:
        lead = await s.get(Lead, call.lead_id)
        owner = (await s.get(Contact, lead.contact_id)).owner_id
    assert (lead.assignee_id, lead.owner_id, owner, lead.status) == (olga.id, olga.id, olga.id, "assigned")
    await take(lambda s: calls.take_call(s, call.lead_id, pavel.id, "c3", rang_at=T0, at=T0, reassign=True))
    async with sessions() as s:
        lead = await s.get(Lead, call.lead_id)
        handled = [(r.agent_id, r.outcome) for r in await s.scalars(select(Reservation).order_by(Reservation.id))]
    assert (lead.assignee_id, lead.owner_id) == (pavel.id, olga.id)     # the lead follows; the client stays olga's
    assert sorted(handled) == sorted([(olga.id, "accepted"), (pavel.id, "accepted"), (pavel.id, "accepted")])


async def test_the_voice_writes_share_one_commit_and_a_refused_one_loses_nothing_else(ingestor, sessions):
    async with sessions() as s, s.begin():
        olga = await users.create_user(s, users.NewUser("olga", "correct horse", Role.OPERATOR), T0)
    rung = [await a_call(ingestor, f"+7495123450{n}") for n in range(3)]
    before = ingestor.batches

    def half_done(session):  # type: ignore[no-untyped-def]
        call_grants.record_pop(session, rung[2].lead_id, olga.id, "c-half", "101", T0)
        raise ValueError("changed its mind")

    # Queued in one turn, as the calls of a busy minute: grants, an answer, a record, and two that fail.
    outcomes = await asyncio.gather(
        *(ingestor.write_in_batch(lambda s, c=c, n=n: call_grants.record_pop(s, c.lead_id, olga.id, f"c{n}", "101", T0))
          for n, c in enumerate(rung)),
        ingestor.write_in_batch(lambda s: call_grants.record_pop(s, rung[0].lead_id, olga.id + 1000, "c-bad", "102", T0)),
        ingestor.write_in_batch(half_done),
        ingestor.write_in_batch(lambda s: calls.take_calls(s, [               # answers of calls answered together
            calls.Answer(rung[0].lead_id, olga.id, "c0", T0, T0, reassign=True),
            calls.Answer(rung[2].lead_id, olga.id + 1000, "c2", T0, T0, reassign=True)])),
        ingestor.write_in_batch(lambda s: write_records(s, [CallRecord("c1", rung[1].lead_id, rung[1].interaction_id,
                                                                       {"outcome": "answered"}, settles=True)])),
        return_exceptions=True)
    assert ingestor.batches - before == 1          # one transaction for all of them, nothing written twice
    assert isinstance(outcomes[3], IntegrityError)      # a grant for a user that does not exist: refused alone
    assert isinstance(outcomes[4], ValueError)
    assert outcomes[5] == [True, False] and not isinstance(outcomes[6], BaseException)   # nobody is user 1000+

    async with sessions() as s:
        pops = sorted((p.lead_id, p.detail["call_id"]) for p in await s.scalars(
            select(AuditEntry).where(AuditEntry.action == "lead.popped")))
        lead = await s.get(Lead, rung[0].lead_id)
        record = await s.get(Interaction, rung[1].interaction_id)
        traces = list(await s.scalars(select(RoutingTask.id).where(RoutingTask.kind == "call")))
    assert pops == sorted((c.lead_id, f"c{n}") for n, c in enumerate(rung))     # the half-done grant was undone
    assert lead is not None and lead.assignee_id == olga.id
    assert record is not None and record.attributes["outcome"] == "answered"
    assert traces == ["answered:c0:" + str(olga.id)]


async def test_a_record_the_store_refuses_fails_its_own_call_only(ingestor, sessions):
    good, other = await a_call(ingestor), await a_call(ingestor, "+74951234599")
    records = CallRecords(ingestor)
    written = await asyncio.gather(
        records.write(CallRecord("c1", good.lead_id, good.interaction_id, {"outcome": "answered"})),
        records.write(CallRecord("c2", other.lead_id, other.interaction_id, {"outcome": "answered"},
                                 pops=((10_000, "101", T0),))),       # a user that does not exist
        return_exceptions=True)
    assert isinstance(written[0], Written) and isinstance(written[1], IntegrityError)
    async with sessions() as s:
        stored = {i.id: i.attributes for i in await s.scalars(select(Interaction))}
    assert stored[good.interaction_id]["outcome"] == "answered"
    assert "outcome" not in stored[other.interaction_id]


async def test_a_group_of_voice_writes_costs_the_same_statements_for_two_calls_as_for_eight(ingestor, sessions):
    """Grants, answers' audit entries and records: one statement per group, never one per call (at 100 calls/s the
    per-call statements were most of the writer's work for the voice)."""
    from sqlalchemy import Engine, event

    async with sessions() as s, s.begin():
        olga = await users.create_user(s, users.NewUser("olga", "correct horse", Role.OPERATOR), T0)
    rung = [await a_call(ingestor, f"+749512346{n:02d}") for n in range(10)]

    async def statements(write, group) -> list[str]:  # type: ignore[no-untyped-def]
        seen: list[str] = []

        def count(_conn, _cursor, statement, *_):  # type: ignore[no-untyped-def]
            seen.append(statement)

        event.listen(Engine, "before_cursor_execute", count)
        try:
            await ingestor.write_in_batch(lambda s: write(s, group))
        finally:
            event.remove(Engine, "before_cursor_execute", count)
        return seen

    def grants(s, group):  # type: ignore[no-untyped-def]
        return call_grants.record_pops(s, [(c.lead_id, olga.id, f"g{c.lead_id}", "101", T0) for c in group])

    def answers(s, group):  # type: ignore[no-untyped-def]
        return calls.take_calls(s, [calls.Answer(c.lead_id, olga.id, f"a{c.lead_id}", T0, T0, reassign=True)
                                    for c in group])

    def records(s, group):  # type: ignore[no-untyped-def]
        return write_records(s, [CallRecord(f"a{c.lead_id}", c.lead_id, c.interaction_id,
                                            {"status": "ended", "outcome": "answered", "answered_by": olga.id},
                                            settles=True, ended_at=T0) for c in group])

    two, eight = rung[:2], rung[2:]
    assert len(await statements(grants, two)) == len(await statements(grants, eight))
    answered = [await statements(answers, group) for group in (two, eight)]
    assert [sum(st.startswith("INSERT INTO audit_log") for st in sent) for sent in answered] == [1, 1]
    # ... and so is the whole of the answers: the leads, their stage changes, the traces, the offers.
    assert len(answered[0]) == len(answered[1])
    assert len(await statements(records, two)) == len(await statements(records, eight))
