"""Imported rows against the store: the identity rules of live contacts, duplicates merged, re-runs idempotent,
a dry run that writes nothing, and the job's cursor committed with its rows."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from crm_store import users
from crm_store.imports import jobs
from crm_store.imports.apply import apply_batch
from crm_store.imports.types import ImportRow, LeadPart, OnMatch, Reject, RunOptions
from crm_store.ingest import Ingestor
from crm_store.models import Contact, ContactCompany, Company, Identity, ImportReject, Lead, MergeSuggestion
from crm_store.types import Role
from factories import T0, phone, request


def row(n: int, *ids: tuple[str, str], name: str | None = None, lead: LeadPart | None = None,
        **extra: Any) -> ImportRow:
    return ImportRow(number=n, fingerprint=f"fp{n}-{ids}-{name}-{lead}", name=name, identities=ids, lead=lead,
                     **extra)


async def apply(sessions, rows: list[ImportRow], how: OnMatch = OnMatch.FILL, rejects=(), import_id=None,  # type: ignore[no-untyped-def]
                cursor: int = 0):
    async with sessions() as s, s.begin():
        return await s.run_sync(apply_batch, rows, list(rejects), RunOptions(import_id, how, None), cursor, T0)


async def count(sessions, model) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)))


async def test_rows_of_one_client_in_a_file_make_one_client_with_every_identity(sessions):
    result = await apply(sessions, [
        row(1, ("phone", "+79161112233"), name="Анна", company="Ромашка", tags=("vip",)),
        row(2, ("phone", "+79161112233"), ("email", "anna@example.com"), company="ромашка", tags=("опт",)),
        row(3, ("email", "boris@example.com"), name="Борис", company="Ромашка"),
    ])
    assert (result.counts.created, result.counts.joined) == (2, 1)
    async with sessions() as s:
        anna = await s.scalar(select(Contact).where(Contact.display_name == "Анна"))
        assert anna.tags == ["vip", "опт"]
        kinds = set(await s.execute(select(Identity.kind, Identity.value).where(Identity.contact_id == anna.id)))
        assert kinds == {("phone", "+79161112233"), ("email", "anna@example.com")}
        assert await s.scalar(select(func.count()).select_from(Company)) == 1      # one company, found by name
        assert await s.scalar(select(func.count()).select_from(ContactCompany)) == 2


async def test_a_company_named_in_cyrillic_is_found_again_by_the_next_batch(sessions):
    # SQLite's lower() folds ASCII only: the lookup must still meet «ООО Ромашка» in the next transaction.
    await apply(sessions, [row(1, ("phone", "+79161112233"), company="ООО «Ромашка»")])
    await apply(sessions, [row(2, ("phone", "+79161112244"), company="ООО «Ромашка»"),
                           row(3, ("phone", "+79161112255"), company="ооо «ромашка»")])
    assert await count(sessions, Company) == 1
    assert await count(sessions, ContactCompany) == 3


@pytest.mark.parametrize("how,name,counts", [(OnMatch.FILL, "Клиент с формы", (0, 1, 0)),
                                            (OnMatch.OVERWRITE, "Из файла", (0, 1, 0)),
                                            (OnMatch.SKIP, "Клиент с формы", (0, 0, 1))])
async def test_a_known_phone_joins_the_live_client_as_the_user_chose(sessions, engine, how, name, counts):
    async with Ingestor(engine, clock=lambda: T0) as ingestor:
        live = await ingestor.ingest(request(phone("+79161112233"), name="Клиент с формы"))
    result = await apply(sessions, [row(1, ("phone", "+79161112233"), ("email", "new@example.com"), name="Из файла")],
                         how)
    assert (result.counts.created, result.counts.joined, result.counts.skipped) == counts
    async with sessions() as s:
        contact = await s.get(Contact, live.contact_id)
        assert contact.display_name == name
        emails = list(await s.scalars(select(Identity.contact_id).where(Identity.kind == "email")))
        assert emails == ([] if how is OnMatch.SKIP else [live.contact_id])
    assert await count(sessions, Contact) == 1


async def test_a_row_naming_two_known_clients_becomes_a_merge_suggestion(sessions):
    await apply(sessions, [row(1, ("phone", "+79161112233"), name="A"), row(2, ("email", "b@example.com"), name="B")])
    result = await apply(sessions, [row(3, ("phone", "+79161112233"), ("email", "b@example.com"))])
    assert result.counts.merges == 1 and result.counts.joined == 1
    async with sessions() as s:
        [suggestion] = list(await s.scalars(select(MergeSuggestion)))
        assert suggestion.status == "pending" and "import row 3" in suggestion.reason
    again = await apply(sessions, [row(4, ("phone", "+79161112233"), ("email", "b@example.com"))])
    assert again.counts.merges == 0 and await count(sessions, MergeSuggestion) == 1


async def test_leads_are_created_once_and_refused_rows_say_why(sessions):
    async with sessions() as s, s.begin():
        anna = await users.create_user(s, users.NewUser("anna", "correct horse", Role.MANAGER), T0)
        anna.email = "anna@corp.example"
    deal = LeadPart(title="Поставка", stage="Won", amount=150050, currency="RUB", owner="ANNA@corp.example",
                    created_at=datetime(2025, 12, 31, tzinfo=T0.tzinfo), source="выставка", notes="звонить")
    rows = [row(1, ("phone", "+79161112233"), name="A", lead=deal),
            row(2, ("phone", "+79161112244"), lead=LeadPart(owner="nobody")),
            row(3, ("phone", "+79161112255"), lead=LeadPart(pipeline="Опт"))]
    first = await apply(sessions, rows)
    assert (first.counts.created, first.counts.leads, first.counts.invalid) == (1, 1, 2)
    assert [(r.number, r.reason) for r in first.rejects] == [
        (2, "owner 'nobody' is neither a login nor a user's e-mail"), (3, "pipeline 'Опт' does not exist")]
    async with sessions() as s:
        [lead] = list(await s.scalars(select(Lead)))
        assert (lead.status, lead.outcome, lead.amount, lead.subject, lead.notes) == ("won", "won", 150050, "Поставка",
                                                                                     "звонить")
        assert lead.owner_id is not None and lead.created_at == deal.created_at and lead.source == {"source": "выставка"}
    second = await apply(sessions, rows[:1])
    assert (second.counts.created, second.counts.leads, second.counts.skipped) == (0, 0, 1)
    assert await count(sessions, Lead) == 1 and await count(sessions, Contact) == 1


async def test_a_dry_run_counts_but_writes_nothing(sessions):
    rows = [row(1, ("phone", "+79161112233"), name="A", lead=LeadPart()), row(2, ("phone", "+79161112233"))]
    result = await jobs.dry_run_batch(sessions, rows, [Reject(3, "bad phone", ("x",))],
                                      RunOptions(None, OnMatch.FILL, None), T0, jobs.Rehearsal())
    assert (result.counts.created, result.counts.joined, result.counts.invalid, result.counts.leads) == (1, 1, 1, 1)
    for model in (Contact, Identity, Lead):
        assert await count(sessions, model) == 0


async def test_the_cursor_and_the_refused_rows_commit_with_the_batch(sessions):
    async with sessions() as s, s.begin():
        job = await jobs.create_job(s, None, "c.csv", "/nowhere/c.csv", None, 3, T0)
        await jobs.start(s, job.id, {"mapping": {"0": "phone"}}, 3, T0)
    await apply(sessions, [row(1, ("phone", "+79161112233"))], rejects=[Reject(2, "bad phone", ("12",))],
                import_id=job.id, cursor=2)
    async with sessions() as s:
        stored = await jobs.get_job(s, job.id)
        assert stored.cursor == 2 and stored.counts["created"] == 1 and stored.counts["invalid"] == 1
        [reject] = list(await s.scalars(select(ImportReject)))
        assert (reject.row_number, reject.reason, reject.values) == (2, "bad phone", ["12"])
        assert [j.id for j in await jobs.unfinished(s)] == [job.id]


async def test_a_dry_run_in_batches_counts_what_the_real_run_then_does(sessions):
    # Each dry batch is rolled back: what an earlier batch would have created must still be seen by the next one.
    async with sessions() as s, s.begin():
        s.add(Contact(id=500, display_name="Стар", created_at=T0, updated_at=T0))
        s.add(Identity(contact_id=500, kind="phone", value="+79160000500", confidence="verified", created_at=T0))
    batches = [
        [row(1, ("phone", "+79161112233"), name="Анна", lead=LeadPart()),
         row(2, ("phone", "+79160000500"), ("email", "old@example.com")),       # the stored client, a new e-mail
         row(3, ("email", "boris@example.com"), name="Борис")],
        [row(4, ("phone", "+79161112233"), ("email", "anna@example.com")),      # Анна again, a second batch
         row(5, ("email", "old@example.com"), name="Стар"),                     # the stored client by its new e-mail
         row(6, ("email", "anna@example.com"), ("email", "boris@example.com")),  # names two clients of batch 1
         row(1, ("phone", "+79161112233"), name="Анна", lead=LeadPart())],       # row 1 repeated: its lead once
        [row(7, ("email", "anna@example.com"), lead=LeadPart(title="second")),
         row(8, ("phone", "+79169999999"))],
    ]
    options = RunOptions(None, OnMatch.FILL, None)
    rehearsal = jobs.Rehearsal()
    dry = [(await jobs.dry_run_batch(sessions, b, [], options, T0, rehearsal)).counts.as_dict() for b in batches]
    assert await count(sessions, Contact) == 1
    real = [(await apply(sessions, b)).counts.as_dict() for b in batches]
    assert dry == real
    assert [c["created"] for c in real] == [2, 0, 1] and real[1]["merges"] == 1 and real[1]["skipped"] == 1
