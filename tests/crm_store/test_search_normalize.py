"""search.normalize strips marks through a translate table filled as characters come: the same text as
stripping every combining character one by one, for any text (the table's bound included)."""
from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from crm_store import search


def one_by_one(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split())


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_normalize_is_the_character_by_character_result(value: str) -> None:
    assert search.normalize(value) == one_by_one(value)


def test_names_lose_their_marks_and_a_full_table_still_translates(monkeypatch) -> None:
    assert search.normalize("  Ёлкин  Йосиф\tCafé ") == "елкин иосиф cafe"
    monkeypatch.setattr(search, "_WITHOUT_MARKS", search._WithoutMarks())
    monkeypatch.setattr(search._WithoutMarks, "LIMIT", 2)
    assert search.normalize("Ёлка й é") == "елка и e" == one_by_one("Ёлка й é")
    assert len(search._WITHOUT_MARKS) == 2
