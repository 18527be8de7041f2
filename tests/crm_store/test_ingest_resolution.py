"""Identity resolution, lead joining and idempotency, on SQLite and PostgreSQL."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from crm_store.ingest import Ingestor
from crm_store.models import Contact, Identity, Interaction, Lead, MergeSuggestion, User
from crm_store.resolution import JoinPolicy
from crm_store.types import LeadStatus
from factories import T0, email, phone, request, telegram
from support.clocks import ManualClock


@pytest.fixture
def clock() -> ManualClock[datetime]:
    return ManualClock(T0)


@pytest.fixture
async def ingestor(engine, clock):  # type: ignore[no-untyped-def]
    async with Ingestor(engine, JoinPolicy(stale_after=timedelta(days=30), reopen_window=timedelta(hours=72)),
                        clock=clock) as running:
        yield running


async def count(sessions, model) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as s:
        return await s.scalar(select(func.count()).select_from(model))


async def test_first_contact_creates_contact_identities_lead_and_interaction(ingestor, sessions):
    result = await ingestor.ingest(request(phone("+79123456789"), email("anna@example.ru"), name="Anna",
                                           text="Call me", source={"form": "default", "utm_source": "ya"}))
    assert result.created_contact and result.created_lead and not result.duplicate
    async with sessions() as s:
        lead = await s.get(Lead, result.lead_id)
        contact = await s.get(Contact, result.contact_id)
        kinds = {tuple(row) for row in await s.execute(select(Identity.kind, Identity.value))}
    assert lead.status == LeadStatus.NEW and lead.source == {"form": "default", "utm_source": "ya"}
    assert contact.display_name == "Anna"
    assert kinds == {("phone", "+79123456789"), ("email", "anna@example.ru")}
    assert await count(sessions, Interaction) == 1


async def test_redelivery_returns_the_same_lead_and_writes_nothing(ingestor, sessions):
    first = await ingestor.ingest(request(phone("+79123456789"), event_id="sub-1"))
    again = await ingestor.ingest(request(phone("+79123456789"), event_id="sub-1"))
    assert again.duplicate and again.lead_id == first.lead_id and again.interaction_id == first.interaction_id
    assert (await count(sessions, Lead), await count(sessions, Interaction)) == (1, 1)


async def test_redelivery_inside_one_batch_is_written_once(ingestor, sessions):
    results = await asyncio.gather(*(ingestor.ingest(request(phone("+79001112233"), event_id="same"))
                                     for _ in range(5)))
    assert len({r.lead_id for r in results}) == 1
    assert sum(not r.duplicate for r in results) == 1
    assert (await count(sessions, Interaction), await count(sessions, Contact)) == (1, 1)


async def test_known_phone_joins_contact_owner_and_open_lead(ingestor, sessions, clock):
    first = await ingestor.ingest(request(phone("+79123456789")))
    async with sessions() as s, s.begin():
        owner = User(username="olga", display_name="Olga", role="manager", password_hash="x", created_at=T0)
        s.add(owner)
        await s.flush()
        (await s.get(Contact, first.contact_id)).owner_id = owner.id
    clock.now += timedelta(hours=1)
    second = await ingestor.ingest(request(phone("+79123456789"), email("new@example.com"), channel="email"))
    assert not second.created_contact and second.contact_id == first.contact_id
    assert not second.created_lead and second.lead_id == first.lead_id
    assert await count(sessions, Identity) == 2   # the new e-mail joined the known client


async def test_new_lead_of_known_client_inherits_owner(ingestor, sessions, clock):
    first = await ingestor.ingest(request(phone("+79123456789")))
    async with sessions() as s, s.begin():
        owner = User(username="olga", display_name="Olga", role="manager", password_hash="x", created_at=T0)
        s.add(owner)
        await s.flush()
        (await s.get(Contact, first.contact_id)).owner_id = owner.id
        lead = await s.get(Lead, first.lead_id)
        lead.status, lead.outcome, lead.closed_at = LeadStatus.WON, "won", clock.now
    clock.now += timedelta(days=10)
    again = await ingestor.ingest(request(phone("+79123456789")))
    assert again.created_lead and again.owner_id == owner.id


async def test_closed_lead_reopens_inside_window_and_not_after(ingestor, sessions, clock):
    first = await ingestor.ingest(request(phone("+79123456789")))
    async with sessions() as s, s.begin():
        lead = await s.get(Lead, first.lead_id)
        lead.status, lead.outcome, lead.closed_at = LeadStatus.CLOSED, "resolved", clock.now
    clock.now += timedelta(hours=71)
    reopened = await ingestor.ingest(request(phone("+79123456789")))
    assert reopened.reopened and reopened.lead_id == first.lead_id and reopened.lead_status == LeadStatus.NEW
    async with sessions() as s, s.begin():
        lead = await s.get(Lead, first.lead_id)
        lead.status, lead.outcome, lead.closed_at = LeadStatus.CLOSED, "resolved", clock.now
    clock.now += timedelta(hours=73)
    later = await ingestor.ingest(request(phone("+79123456789")))
    assert later.created_lead and later.lead_id != first.lead_id


async def test_stale_open_lead_is_not_continued(ingestor, clock):
    first = await ingestor.ingest(request(phone("+79123456789")))
    clock.now += timedelta(days=31)
    later = await ingestor.ingest(request(phone("+79123456789")))
    assert later.created_lead and later.lead_id != first.lead_id and later.contact_id == first.contact_id


async def test_submission_naming_two_known_contacts_suggests_a_merge_once(ingestor, sessions):
    anna = await ingestor.ingest(request(phone("+79123456789")))
    boris = await ingestor.ingest(request(email("boris@example.com")))
    both = await ingestor.ingest(request(email("boris@example.com"), phone("+79123456789"), channel="email",
                                         primary_kind="email"))
    assert both.contact_id == boris.contact_id       # the address the channel proves wins
    assert len(both.merge_suggestion_ids) == 1
    again = await ingestor.ingest(request(email("boris@example.com"), phone("+79123456789")))
    assert again.merge_suggestion_ids == both.merge_suggestion_ids
    async with sessions() as s:
        [suggestion] = (await s.scalars(select(MergeSuggestion))).all()
    assert {suggestion.contact_a_id, suggestion.contact_b_id} == {anna.contact_id, boris.contact_id}
    assert suggestion.status == "pending"


async def test_conflicting_messenger_ids_never_merge_automatically(ingestor, sessions):
    first = await ingestor.ingest(request(telegram("111"), phone("+79123456789", "verified"), channel="telegram",
                                          primary_kind="telegram"))
    other = await ingestor.ingest(request(telegram("222"), phone("+79123456789", "verified"), channel="telegram",
                                          primary_kind="telegram"))
    assert other.created_contact and other.contact_id != first.contact_id
    assert len(other.merge_suggestion_ids) == 1
    async with sessions() as s:
        owner_of_phone = await s.scalar(select(Identity.contact_id).where(Identity.value == "+79123456789"))
    assert owner_of_phone == first.contact_id


async def test_mentioned_identity_only_suggests(ingestor, sessions):
    anna = await ingestor.ingest(request(phone("+79123456789")))
    note = await ingestor.ingest(request(email("boss@example.com"), phone("+79123456789", "mentioned")))
    assert note.contact_id != anna.contact_id and note.created_contact
    assert len(note.merge_suggestion_ids) == 1
    unknown = await ingestor.ingest(request(email("x@example.com"), phone("+79990000000", "mentioned")))
    assert unknown.merge_suggestion_ids == ()
    async with sessions() as s:
        assert await s.scalar(select(func.count()).where(Identity.value == "+79990000000")) == 0


async def test_thread_reference_continues_the_lead_for_another_sender(ingestor):
    first = await ingestor.ingest(request(email("a@example.com"), channel="email", thread_ref="<m1@x>"))
    reply = await ingestor.ingest(request(email("colleague@example.com"), channel="email", thread_ref="<m1@x>"))
    assert reply.lead_id == first.lead_id and reply.contact_id != first.contact_id


async def test_concurrent_events_share_commits(ingestor, sessions):
    results = await asyncio.gather(*(ingestor.ingest(request(phone(f"+7912000{i:04d}"))) for i in range(300)))
    assert len({r.lead_id for r in results}) == 300
    assert ingestor.batches < 300 / 2        # group commit, not one transaction per event
    assert await count(sessions, Lead) == 300


async def test_same_client_twice_in_one_batch_gets_one_contact_and_one_lead(ingestor, sessions):
    results = await asyncio.gather(*(ingestor.ingest(request(phone("+79123456789"))) for _ in range(10)))
    assert len({r.contact_id for r in results}) == 1 and len({r.lead_id for r in results}) == 1
    assert await count(sessions, Interaction) == 10


async def test_two_writers_racing_on_one_new_client_make_one_contact(database_url, clock):
    from crm_store.session import create_engine

    engines = [create_engine(database_url) for _ in range(2)]
    try:
        async with Ingestor(engines[0], clock=clock) as a, \
                Ingestor(engines[1], clock=clock) as b:
            results = await asyncio.gather(*((a if i % 2 else b).ingest(request(phone("+79123456789")))
                                             for i in range(20)))
        assert len({r.contact_id for r in results}) == 1
        assert len({r.interaction_id for r in results}) == 20
    finally:
        for engine in engines:
            await engine.dispose()


async def test_ticket_token_joins_only_its_own_clients_lead(ingestor, sessions, clock):
    first = await ingestor.ingest(request(email("a@example.com"), channel="email", thread_ref="<root@x>"))
    async with sessions() as s, s.begin():
        lead = await s.get(Lead, first.lead_id)
        lead.status, lead.outcome, lead.closed_at = LeadStatus.CLOSED, "resolved", clock.now
    clock.now += timedelta(days=10)     # long past the reopen window: only the token can join it
    own = await ingestor.ingest(request(email("a@example.com"), channel="email", lead_hint=first.lead_id))
    assert own.lead_id == first.lead_id and own.reopened
    forged = await ingestor.ingest(request(email("b@example.com"), channel="email", lead_hint=first.lead_id))
    assert forged.lead_id != first.lead_id


async def test_routing_task_is_committed_with_the_lead_once_per_waiting_lead(ingestor, sessions):
    from crm_store import leads
    from crm_store.models import RoutingTask, User
    from crm_store.types import RoutingHint

    hint = RoutingHint(queue="default", channel="email")
    first = await ingestor.ingest(request(phone("+79123456789"), routing=hint))
    again = await ingestor.ingest(request(phone("+79123456789"), routing=hint))
    assert first.task_id == f"lead:{first.lead_id}:{first.interaction_id}" and again.task_id is None
    async with sessions() as s, s.begin():
        user = User(username="olga", display_name="Olga", role="manager", password_hash="x", created_at=T0)
        s.add(user)
        await s.flush()
        await leads.assign(s, first.lead_id, user.id, T0)
    assigned = await ingestor.ingest(request(phone("+79123456789"), routing=hint))
    unrouted = await ingestor.ingest(request(phone("+79990000000")))
    assert assigned.task_id is None and unrouted.task_id is None
    async with sessions() as s:
        rows = list(await s.scalars(select(RoutingTask)))
    assert [(r.id, r.state, r.queue, r.channel) for r in rows] == [(first.task_id, "pending", "default", "email")]


async def test_new_clients_leads_are_searchable_as_written_without_a_second_pass(ingestor, sessions):
    """A new contact's lead gets its search text with its row; recomputing it from the store changes nothing."""
    from crm_store import search

    results = await asyncio.gather(
        ingestor.ingest(request(phone("+79123456789"), email("Anna@Example.ru"), name="Анна Петрова",
                                text="Перезвоните мне", subject="Contact us", event_id="s-1")),
        ingestor.ingest(request(phone("+79123456789"), name=None, text="ещё раз", event_id="s-2")),
        ingestor.ingest(request(email("olga@example.ru"), name="Olga", text="Hi", event_id="s-3")),
    )
    leads = {r.lead_id for r in results}
    async with sessions() as s:
        written = dict((await s.execute(select(Lead.id, Lead.search_text).where(Lead.id.in_(leads)))).all())
    assert "анна петрова" in written[results[0].lead_id] and "79123456789" in written[results[0].lead_id]
    assert "anna@example.ru" in written[results[0].lead_id] and "перезвоните" in written[results[0].lead_id]
    async with sessions() as s, s.begin():
        await s.run_sync(lambda sync: search.refresh(sync, {r.contact_id for r in results}))
    async with sessions() as s:
        again = dict((await s.execute(select(Lead.id, Lead.search_text).where(Lead.id.in_(leads)))).all())
    assert again == written


async def test_returning_clients_new_leads_are_written_with_their_search_text_once(ingestor, sessions, clock):
    """A stored client's new lead gets its final search text with its row: what `search.refresh` would compute
    from the store (name, companies but a deleted one, every identity in order, the note shown first), and the
    batch sends no UPDATE of a search text (which costs the trigram index a delete and an insert)."""
    from sqlalchemy import Engine, event

    from crm_store import search
    from crm_store.models import Company, ContactCompany

    won = await ingestor.ingest(request(phone("+79123456789"), email("anna@example.ru"), name="Анна Петрова",
                                        text="Первый вопрос", event_id="w-1"))
    plain = await ingestor.ingest(request(phone("+79005554433"), name="Олег", text="Старое", event_id="p-1"))
    async with sessions() as s, s.begin():
        for name, deleted in (("ООО Ромашка", None), ("Закрытая фирма", T0), ("ИП Сидоров", None)):
            company = Company(name=name, created_at=T0, updated_at=T0, deleted_at=deleted)
            s.add(company)
            await s.flush()
            s.add(ContactCompany(contact_id=won.contact_id, company_id=company.id, created_at=T0))
        lead = await s.get(Lead, won.lead_id)
        lead.status, lead.outcome, lead.closed_at = LeadStatus.WON, "won", T0
        closed = await s.get(Lead, plain.lead_id)
        closed.status, closed.outcome, closed.closed_at = LeadStatus.LOST, "lost", T0
        await s.flush()
        await s.run_sync(lambda sync: search.refresh(sync, {won.contact_id}))   # as linking a company does
    clock.now += timedelta(hours=1)    # the closed leads are seen: each new lead follows one up

    rewritten: list[object] = []     # the rows of each UPDATE of a search text

    def keep(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if " ".join(statement.split()).upper().startswith("UPDATE LEADS SET SEARCH_TEXT"):
            rewritten.extend(parameters if executemany else [parameters])

    event.listen(Engine, "before_cursor_execute", keep)
    try:
        results = await asyncio.gather(
            ingestor.ingest(request(phone("+79123456789"), name="Анна", text="Снова я", subject="Счёт",
                                    event_id="w-2")),
            ingestor.ingest(request(phone("+79005554433"), email("oleg@example.ru"), name="Олег",
                                    text="Новый адрес", event_id="p-2")),
            ingestor.ingest(request(email("new@example.ru"), name="Новая", text="Привет", event_id="n-1")),
        )
    finally:
        event.remove(Engine, "before_cursor_execute", keep)
    assert all(r.created_lead for r in results) and not any(r.created_contact for r in results[:2])
    leads = {r.lead_id for r in results} | {won.lead_id, plain.lead_id}
    async with sessions() as s:
        written = dict((await s.execute(select(Lead.id, Lead.search_text).where(Lead.id.in_(leads)))).all())
    anna = written[results[0].lead_id]
    assert anna.startswith("анна петрова | ооо ромашка | ип сидоров | +79123456789 | 79123456789 | anna@example.ru")
    assert "закрытая" not in anna and "счет" in anna and f"lead {won.lead_id} was won" in anna
    assert "oleg@example.ru" in written[results[1].lead_id] and "oleg@example.ru" in written[plain.lead_id]
    # One text rewritten: the older lead of the client given a new identity (Oleg's); no new lead's.
    assert len(rewritten) == 1
    async with sessions() as s, s.begin():
        await s.run_sync(lambda sync: search.refresh(sync, {r.contact_id for r in results}))
    async with sessions() as s:
        again = dict((await s.execute(select(Lead.id, Lead.search_text).where(Lead.id.in_(leads)))).all())
    assert again == written
