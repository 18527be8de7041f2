"""Search pages at scale: ranked from the newest matches the viewer may see, every spelling of a needle asked.

A page is ranked from the newest matches in whole windows (`search.WINDOW`), not from every match: the list's
filters are applied before that cut, and on SQLite the trigram index is asked for a piece of the needle with
the whole needle checked on the row (crm_store.search_terms), which must find exactly the leads containing it.
"""
from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from crm_store import leads, search, search_terms
from crm_store.models import Contact, Lead, Pipeline, User
from crm_store.types import LeadFilter, Role, Viewer
from factories import T0

OTHERS = 600       # newer matches of others than the operator's own: more than any page is ranked from
OLGA = Viewer(user_id=1, role=Role.OPERATOR, team_id=None)
BOSS = Viewer(user_id=3, role=Role.SUPERVISOR, team_id=None)


async def _leads(sessions, texts: list[tuple[str, int]]) -> list[int]:  # type: ignore[no-untyped-def]
    """One lead (and client) per (search text, assignee), oldest first, in one transaction."""
    async with sessions() as s, s.begin():
        await s.execute(insert(User), [{"id": i, "username": f"u{i}", "display_name": f"U{i}", "role": role,
                                        "password_hash": "-", "skills": {}, "capacity": {}, "created_at": T0}
                                       for i, role in ((1, "operator"), (2, "operator"), (3, "supervisor"))])
        pipeline_id = await s.scalar(select(Pipeline.id).limit(1))
        await s.execute(insert(Contact), [{"id": i, "display_name": f"C{i}", "created_at": T0, "updated_at": T0}
                                          for i in range(1, len(texts) + 1)])
        await s.execute(insert(Lead), [{
            "id": i, "contact_id": i, "status": "assigned", "channel": "form", "source": {}, "attributes": {},
            "assignee_id": assignee, "owner_id": assignee, "created_at": T0 + timedelta(minutes=i),
            "updated_at": T0, "last_activity_at": T0 + timedelta(minutes=i), "pipeline_id": pipeline_id,
            "search_text": text} for i, (text, assignee) in enumerate(texts, 1)])
    return list(range(1, len(texts) + 1))


async def test_an_operator_finds_their_leads_behind_newer_matches_of_others(sessions):
    ids = await _leads(sessions, [("ромашка ооо | заказ", 1)] * 3 + [("ромашка ооо | счет", 2)] * OTHERS)
    async with sessions() as s:
        mine = await leads.list_leads(s, OLGA, LeadFilter(q="Ромашка"))
        everyone = await leads.list_leads(s, BOSS, LeadFilter(q="ромашка", limit=50))
        next_page = await leads.list_leads(s, BOSS, LeadFilter(q="ромашка", limit=50, offset=50))
    assert [lead.id for lead in mine] == ids[2::-1]
    assert [lead.id for lead in everyone] == ids[:-51:-1]
    assert [lead.id for lead in next_page] == ids[-51:-101:-1]     # the same candidates: no repeat, no gap


async def test_a_phone_like_needle_is_searched_as_typed_and_as_digits(sessions):
    # "12-34" reads as a phone: its digits "1234" and the text itself are two needles, each with its own value.
    ids = await _leads(sessions, [("client | door code 12-34", 1), ("+79001234000 | 79001234000", 1)])
    async with sessions() as s:
        found = await leads.list_leads(s, BOSS, LeadFilter(q="12-34"))
    assert sorted(lead.id for lead in found) == ids


WORDS = ["client", "536776", "@example.ru", "петросян", "+7 912 345-67-89", "79123456789", "заказ", "#24403",
         "ёлкин", " | ", "crème"]


@settings(max_examples=60, deadline=None)
@given(docs=st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map("".join), min_size=1,
                     max_size=8),
       pick=st.tuples(st.integers(0, 7), st.integers(0, 60), st.integers(3, 24)))
def test_the_pieces_asked_find_every_text_containing_the_needle(docs, pick):
    """What the FTS5 query asks for is in every text that contains the needle (so the row check sees them all)."""
    text = search.normalize(docs[pick[0] % len(docs)])
    start = pick[1] % max(1, len(text) - 2)
    needle = text[start:start + pick[2]].strip()
    if len(needle) < search.TRIGRAM:
        return
    asked = search_terms.fts_query(needle)
    pieces = [p.strip().strip('"').replace('""', '"') for p in asked.split(" AND ")]
    assert all(len(p) >= search.TRIGRAM for p in pieces)
    for doc in map(search.normalize, docs):
        if needle in doc:
            assert all(p in doc for p in pieces), (needle, asked, doc)
