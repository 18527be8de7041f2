"""Visibility, pipeline rules, users and sessions, merges and their undo."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crm_store import contacts, leads, users
from crm_store.errors import Conflict, Forbidden, Invalid, NotFound
from crm_store.ingest import Ingestor
from crm_store.models import Identity, Interaction, Lead
from crm_store.types import LeadChanges, LeadFilter, LeadStatus, LeadOutcome, Permissions, Role
from factories import T0, email, phone, request


async def make_user(sessions, name: str, role: Role, team: str | None = None):  # type: ignore[no-untyped-def]
    async with sessions() as s, s.begin():
        user = await users.create_user(s, users.NewUser(name, "correct horse", role, team=team), T0)
    return users.viewer_of(user)


@pytest.fixture
async def ingestor(engine):  # type: ignore[no-untyped-def]
    async with Ingestor(engine, clock=lambda: T0) as running:
        yield running


async def test_password_login_and_token_sessions(sessions):
    await make_user(sessions, "olga", Role.MANAGER)
    async with sessions() as s, s.begin():
        assert await users.authenticate(s, "olga", "wrong password") is None
        assert await users.authenticate(s, "nobody", "correct horse") is None
        user = await users.authenticate(s, "olga", "correct horse")
        assert user is not None and user.password_hash.startswith("$argon2")
        token = await users.open_session(s, user, T0, timedelta(hours=8))
    async with sessions() as s, s.begin():
        assert (await users.user_for_token(s, token, T0 + timedelta(hours=1))).username == "olga"
        assert await users.user_for_token(s, token, T0 + timedelta(hours=9)) is None
        assert await users.user_for_token(s, token + "x", T0) is None
        await users.close_session(s, token)
    async with sessions() as s:
        assert await users.user_for_token(s, token, T0) is None


async def test_duplicate_username_and_short_password_are_refused(sessions):
    await make_user(sessions, "olga", Role.MANAGER)
    with pytest.raises(Conflict):
        await make_user(sessions, "olga", Role.OPERATOR)
    async with sessions() as s:
        with pytest.raises(Invalid):
            await users.create_user(s, users.NewUser("ivan", "short", Role.OPERATOR), T0)


async def test_managers_see_own_and_team_leads_supervisors_see_all(sessions, ingestor):
    olga = await make_user(sessions, "olga", Role.MANAGER, team="sales")
    petr = await make_user(sessions, "petr", Role.MANAGER, team="sales")
    ivan = await make_user(sessions, "ivan", Role.OPERATOR, team="support")
    boss = await make_user(sessions, "boss", Role.SUPERVISOR)
    a = await ingestor.ingest(request(phone("+79123456789")))
    waiting = await ingestor.ingest(request(phone("+79120000000")))   # nobody's: listed as waiting work only
    async with sessions() as s, s.begin():
        await leads.update_lead(s, boss, a.lead_id, LeadChanges(assignee_id=olga.user_id), Permissions(), T0)

    async def ids(viewer) -> set[int]:  # type: ignore[no-untyped-def]
        async with sessions() as s:
            return {lead.id for lead in await leads.list_leads(s, viewer, LeadFilter())}

    assert await ids(olga) == {a.lead_id}
    assert await ids(petr) == {a.lead_id}          # same team
    assert await ids(ivan) == set()
    assert len(await ids(boss)) == 2
    async with sessions() as s:
        pool = await leads.list_leads(s, ivan, LeadFilter(pool=True))
    assert [lead.id for lead in pool] == [waiting.lead_id]
    async with sessions() as s:
        with pytest.raises(Forbidden):
            await leads.card(s, ivan, a.lead_id)
        with pytest.raises(NotFound):
            await leads.card(s, boss, 999999)


async def test_filters_and_search(sessions, ingestor):
    boss = await make_user(sessions, "boss", Role.ADMIN)
    a = await ingestor.ingest(request(phone("+79123456789"), name="Anna Petrova"))
    b = await ingestor.ingest(request(email("boris@example.com"), channel="email"))

    async def found(**kw) -> set[int]:  # type: ignore[no-untyped-def]
        async with sessions() as s:
            return {lead.id for lead in await leads.list_leads(s, boss, LeadFilter(**kw))}

    assert await found(channel=("email",)) == {b.lead_id}
    assert await found(q="petrova") == {a.lead_id}
    assert await found(q="8 912 345-67-89", q_phone="+79123456789") == {a.lead_id}
    assert await found(q="345-67-89") == {a.lead_id}
    assert await found(q="BORIS@") == {b.lead_id}
    assert await found(status=(LeadStatus.WON,)) == set()
    assert await found(unassigned=True) == {a.lead_id, b.lead_id}


async def test_pipeline_rules_and_outcomes(sessions, ingestor):
    olga = await make_user(sessions, "olga", Role.MANAGER)
    lead_id = (await ingestor.ingest(request(phone("+79123456789")))).lead_id

    async def change(**kw):  # type: ignore[no-untyped-def]
        async with sessions() as s, s.begin():
            return await leads.update_lead(s, olga, lead_id, LeadChanges(**kw), Permissions(), T0)

    async with sessions() as s, s.begin():
        await leads.assign(s, lead_id, olga.user_id, T0)      # what accepting a routed offer does
    with pytest.raises(Invalid, match="reason") as err:
        await change(status=LeadStatus.LOST)
    assert err.value.field == "lost_reason"
    with pytest.raises(Invalid) as err:
        await change(status=LeadStatus.CLOSED, outcome=LeadOutcome.HANDED_OVER)
    assert err.value.field == "handed_over_to"
    diff = await change(status=LeadStatus.LOST, lost_reason="too expensive")
    assert diff["status"] == ["assigned", "lost"]
    with pytest.raises(Invalid):
        await change(status=LeadStatus.WON)       # finished leads are reopened first
    await change(status=LeadStatus.IN_PROGRESS)
    await change(status=LeadStatus.CLOSED, outcome=LeadOutcome.HANDED_OVER, handed_over_to="dealer in Kazan")
    async with sessions() as s:
        lead = await s.get(Lead, lead_id)
    assert (lead.outcome, lead.handed_over_to, lead.lost_reason) == ("handed_over", "dealer in Kazan", None)
    assert lead.closed_at == T0


async def test_editing_and_deleting_others_leads_follow_the_permission_setting(sessions, ingestor):
    olga = await make_user(sessions, "olga", Role.MANAGER, team="sales")
    petr = await make_user(sessions, "petr", Role.MANAGER, team="sales")
    lead_id = (await ingestor.ingest(request(phone("+79123456789")))).lead_id
    strict = Permissions()
    lenient = Permissions(edit_others=frozenset({Role.MANAGER}), delete=frozenset({Role.MANAGER}),
                          delete_others=frozenset())
    async with sessions() as s, s.begin():
        await leads.assign(s, lead_id, olga.user_id, T0)
    async with sessions() as s:
        with pytest.raises(Forbidden):
            await leads.update_lead(s, petr, lead_id, LeadChanges(notes="mine now"), strict, T0)
    async with sessions() as s, s.begin():
        await leads.update_lead(s, petr, lead_id, LeadChanges(notes="helping"), lenient, T0)
    async with sessions() as s:
        with pytest.raises(Forbidden):
            await leads.delete_lead(s, petr, lead_id, lenient, T0)       # may add, not delete others'
    async with sessions() as s, s.begin():
        await leads.delete_lead(s, olga, lead_id, lenient, T0)
    async with sessions() as s:
        assert await leads.list_leads(s, olga, LeadFilter()) == []


async def test_accepted_suggestion_merges_and_undo_restores_exactly(sessions, ingestor):
    boss = await make_user(sessions, "boss", Role.SUPERVISOR)
    anna = await ingestor.ingest(request(phone("+79123456789")))
    boris = await ingestor.ingest(request(email("boris@example.com")))
    both = await ingestor.ingest(request(phone("+79123456789"), email("boris@example.com"), primary_kind="phone"))
    [suggestion_id] = both.merge_suggestion_ids
    async with sessions() as s, s.begin():
        merge = await contacts.decide_suggestion(s, boss, suggestion_id, True, T0,
                                                 survivor_id=anna.contact_id)
    async with sessions() as s:
        owners = {tuple(r) for r in await s.execute(select(Identity.value, Identity.contact_id))}
        assert owners == {("+79123456789", anna.contact_id), ("boris@example.com", anna.contact_id)}
        assert {lead.contact_id for lead in await s.scalars(select(Lead))} == {anna.contact_id}
        with pytest.raises(Conflict):
            await contacts.decide_suggestion(s, boss, suggestion_id, False, T0)
    after = await ingestor.ingest(request(email("boris@example.com")))
    assert after.contact_id == anna.contact_id

    async with sessions() as s, s.begin():
        await contacts.undo_merge(s, boss, merge.id, T0)
    async with sessions() as s:
        owner = await s.scalar(select(Identity.contact_id).where(Identity.value == "boris@example.com"))
        boris_lead = await s.get(Lead, boris.lead_id)
        moved_back = await s.scalar(select(Interaction.contact_id).where(Interaction.lead_id == boris.lead_id))
        with pytest.raises(Conflict):
            await contacts.undo_merge(s, boss, merge.id, T0)
    assert owner == boris.contact_id and boris_lead.contact_id == boris.contact_id
    assert moved_back == boris.contact_id
