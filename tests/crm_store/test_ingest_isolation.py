"""One event the database refuses is refused alone; its batch neighbours commit. Texts fit both engines."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from crm_store.ingest import EventRefused, Ingestor
from crm_store.models import Contact, Interaction, Lead
from crm_store.storable import EVENT_ID_MAX, fit_key
from factories import email, phone, request


@pytest.fixture
async def ingestor(engine):  # type: ignore[no-untyped-def]
    async with Ingestor(engine) as running:
        yield running


async def count(sessions, model) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as s:
        return await s.scalar(select(func.count()).select_from(model))


async def test_one_refused_event_fails_alone_and_its_batch_commits(ingestor, sessions):
    # A priority past 64 bits overflows the column on both engines: the database refuses the row itself.
    requests = [request(phone(f"+7912000{i:04d}"), priority=2**70 if i == 13 else 0) for i in range(40)]
    outcomes = await asyncio.gather(*(ingestor.ingest(r) for r in requests), return_exceptions=True)
    refused = [i for i, o in enumerate(outcomes) if isinstance(o, BaseException)]
    assert refused == [13] and isinstance(outcomes[13], EventRefused)
    assert await count(sessions, Lead) == 39
    # The writer lives on, and still groups commits.
    again = await asyncio.gather(*(ingestor.ingest(request(phone(f"+7913000{i:04d}"))) for i in range(50)))
    assert len({r.lead_id for r in again}) == 50


async def test_nul_long_names_and_long_keys_are_stored_on_both_engines(ingestor, sessions):
    name, subject = "Имя " * 100, "Тема " * 200
    long_id = "<" + "m" * 500 + "@example.org>"
    result = await ingestor.ingest(request(email("a@example.org"), channel="email", event_id=long_id, name=name,
                                           subject=subject, text="a\x00b \ud800", thread_ref=long_id,
                                           attributes={"k\x00": ["v\x00"]}))
    assert (await ingestor.ingest(request(email("a@example.org"), channel="email", event_id=long_id))).duplicate
    async with sessions() as s:
        item = await s.get(Interaction, result.interaction_id)
        assert (item.text, item.subject, item.attributes["k"]) == ("ab ?", subject, ["v"])
        assert len(item.event_id) == EVENT_ID_MAX and item.event_id == fit_key(long_id, EVENT_ID_MAX)
        assert (await s.get(Contact, result.contact_id)).display_name == name


def test_cut_keys_differ_when_the_full_values_differ():
    a, b = "x" * 400 + "a", "x" * 400 + "b"
    assert fit_key(a, 300) != fit_key(b, 300) and len(fit_key(a, 300)) == 300 and fit_key("short", 300) == "short"
