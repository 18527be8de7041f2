"""The client's page in the store: who may open it, what it shows, identities never merged silently,
companies found by search, custom values checked per type, the settings' fields seeded once."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from crm_store import clients, companies, contacts, fields, leads, users
from crm_store.errors import Conflict, Invalid, NotFound
from crm_store.fields import Entity, FieldSpec, Kind
from crm_store.ingest import Ingestor
from crm_store.models import FieldDefinition
from crm_store.types import LeadFilter, Role, Viewer
from factories import T0, phone, request


async def make_user(sessions, name: str, role: Role, team: str | None = None) -> Viewer:  # type: ignore[no-untyped-def]
    async with sessions() as s, s.begin():
        return users.viewer_of(await users.create_user(s, users.NewUser(name, "correct horse", role, team=team), T0))


@pytest.fixture
async def ingestor(engine):  # type: ignore[no-untyped-def]
    async with Ingestor(engine, clock=lambda: T0) as running:
        yield running


async def test_page_shows_only_what_the_viewer_sees_and_identities_are_never_moved(sessions, ingestor):
    sam = await make_user(sessions, "sam", Role.MANAGER, "sales")
    sue = await make_user(sessions, "sue", Role.MANAGER, "support")
    boss = await make_user(sessions, "boss", Role.SUPERVISOR)
    ours = await ingestor.ingest(request(phone("+79161112233"), text="quote please"))
    async with sessions() as s, s.begin():
        await leads.assign(s, ours.lead_id, sam.user_id, T0)
    theirs = await ingestor.ingest(request(phone("+79164445566"), text="support"))
    async with sessions() as s, s.begin():
        await leads.assign(s, theirs.lead_id, sue.user_id, T0)

    async with sessions() as s:
        page = await clients.page(s, sam, ours.contact_id)
        assert [x.id for x in page.leads] == [ours.lead_id] and page.contact.owner_id == sam.user_id
        items, more = await clients.timeline(s, sam, ours.contact_id, limit=10)
        assert [i.text for i in items] == ["quote please"] and not more
        with pytest.raises(NotFound):
            await clients.page(s, sue, ours.contact_id)
        with pytest.raises(NotFound):
            await clients.timeline(s, sue, ours.contact_id)

    async with sessions() as s, s.begin():
        with pytest.raises(Conflict) as hidden:
            await clients.add_identity(s, sam, ours.contact_id, "phone", "+79164445566", T0)
        assert str(theirs.contact_id) not in hidden.value.message
        with pytest.raises(Conflict) as named:
            await clients.add_identity(s, boss, ours.contact_id, "phone", "+79164445566", T0)
        assert f"client {theirs.contact_id}" in named.value.message
        with pytest.raises(Invalid):
            await clients.add_identity(s, sam, ours.contact_id, "telegram", "has space", T0)
        with pytest.raises(NotFound):
            await clients.add_identity(s, sue, ours.contact_id, "email", "a@example.com", T0)
        row = await clients.add_identity(s, sam, ours.contact_id, "email", "anna@example.com", T0)
    async with sessions() as s:
        found = await leads.list_leads(s, sam, LeadFilter(q="anna@example"))
        assert [x.id for x in found] == [ours.lead_id]
    async with sessions() as s, s.begin():
        await clients.remove_identity(s, sam, ours.contact_id, row.id, T0)
    async with sessions() as s:
        assert await leads.list_leads(s, sam, LeadFilter(q="anna@example")) == []


async def test_companies_are_searched_and_scoped_like_leads(sessions, ingestor):
    sam = await make_user(sessions, "sam", Role.MANAGER, "sales")
    sue = await make_user(sessions, "sue", Role.MANAGER, "support")
    lead = await ingestor.ingest(request(phone("+79161112233")))
    async with sessions() as s, s.begin():
        await leads.assign(s, lead.lead_id, sam.user_id, T0)
        company = await companies.add_company(s, sam, companies.CompanyData(
            name="Ёлка и Ко", tax_id="7701 234 567", phones=("+74951234567",)), T0)
        await companies.link_contact(s, sam, lead.contact_id, company.id, "CEO", T0)
    async with sessions() as s:
        for q in ("елка", "7701234567", "495123"):
            assert [c.id for c in await companies.find(s, sam, q)] == [company.id], q
        assert await companies.find(s, sue, "елка") == []
        assert [x.id for x in await leads.list_leads(s, sam, LeadFilter(q="елка и ко"))] == [lead.lead_id]
        page = await companies.company_page(s, sam, company.id)
        assert [(c.id, p) for c, p in page.contacts] == [(lead.contact_id, "CEO")]
        with pytest.raises(NotFound):
            await companies.company_page(s, sue, company.id)
    async with sessions() as s, s.begin():
        await companies.delete_company(s, sam, company.id, T0)
    async with sessions() as s:
        assert await companies.find(s, sam, "елка") == []
        assert await leads.list_leads(s, sam, LeadFilter(q="елка и ко")) == []


async def test_values_are_checked_per_kind_and_settings_seed_once(sessions):
    added = await fields.seed_lead_fields(sessions, {"city": {"label": "City", "required": True},
                                                     "temp": {"label": "How hot", "choices": ["hot", "cold"]}})
    assert added == ["city", "temp"]
    assert await fields.seed_lead_fields(sessions, {"city": {"label": "Town"}}) == []
    async with sessions() as s, s.begin():
        defs = {d.name: d for d in await fields.definitions(s, Entity.LEAD)}
        assert defs["city"].label == "City" and defs["temp"].kind == "choice"
        assert fields.required_by_status(defs.values(), ["won", "lost"]) == {"won": ("city",), "lost": ("city",)}
        cities = await fields.add_directory(s, "cities", "Cities", None, ["Москва"])
        await fields.add_definition(s, Entity.COMPANY, "town", FieldSpec(label="Town", kind=Kind.DIRECTORY,
                                                                         directory_id=cities.id))
        await fields.add_definition(s, Entity.COMPANY, "revenue", FieldSpec(label="Revenue", kind=Kind.MONEY,
                                                                            currency="USD"))
        with pytest.raises(Invalid) as wrong:
            await fields.add_definition(s, Entity.COMPANY, "Bad Name", FieldSpec(label="x"))
        assert wrong.value.field == "name"
        with pytest.raises(Conflict):
            await fields.add_definition(s, Entity.COMPANY, "town", FieldSpec(label="again"))
        moscow = (await s.scalars(select(FieldDefinition).where(FieldDefinition.name == "town"))).one()
        assert moscow.directory_id == cities.id
        values = await fields.checked_values(s, Entity.COMPANY, {"town": "Москва", "revenue": 10}, {})
        assert values["revenue"] == {"amount": "10.00", "currency": "USD"} and isinstance(values["town"], int)
        for given in ({"town": "Мсква"}, {"revenue": "1e400"}, {"revenue": {"amount": 1, "currency": "rub"}},
                      {"temp": "hot"}):
            with pytest.raises(Invalid) as refused:
                await fields.checked_values(s, Entity.COMPANY, given, {})
            assert refused.value.field == f"fields.{next(iter(given))}"
        row, _ = await fields.change_definition(s, moscow.id, FieldSpec(active=False))
        with pytest.raises(Invalid):
            await fields.checked_values(s, Entity.COMPANY, {"town": "Москва"}, {})


async def test_a_merge_takes_the_companies_along_and_its_undo_brings_them_back(sessions, ingestor):
    boss = await make_user(sessions, "boss", Role.SUPERVISOR)
    a = await ingestor.ingest(request(phone("+79161112233")))
    b = await ingestor.ingest(request(phone("+79164445566")))
    async with sessions() as s, s.begin():
        shared = await companies.add_company(s, boss, companies.CompanyData(name="Shared"), T0)
        own = await companies.add_company(s, boss, companies.CompanyData(name="Own"), T0)
        await companies.link_contact(s, boss, a.contact_id, shared.id, None, T0)
        await companies.link_contact(s, boss, b.contact_id, shared.id, "CFO", T0)
        await companies.link_contact(s, boss, b.contact_id, own.id, None, T0)
        merge = await contacts.merge(s, a.contact_id, b.contact_id, boss.user_id, T0)
    async with sessions() as s:
        assert {c.name for c, _ in (await clients.page(s, boss, a.contact_id)).companies} == {"Shared", "Own"}
    async with sessions() as s, s.begin():
        await contacts.undo_merge(s, boss, merge.id, T0)
    async with sessions() as s:
        assert {c.name for c, _ in (await clients.page(s, boss, a.contact_id)).companies} == {"Shared"}
        assert {(c.name, p) for c, p in (await clients.page(s, boss, b.contact_id)).companies} == {
            ("Shared", "CFO"), ("Own", None)}
