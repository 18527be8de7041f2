"""An event made storable: every text cleaned as before, and the very same request back when nothing needs it."""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from crm_store.storable import clean_text, storable
from factories import T0, phone
from crm_store.types import IngestRequest


def _reference(value: Any) -> Any:
    """The cleaning of attribute values as it was written first: a full copy, compared with the original."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, Mapping):
        return {clean_text(str(k)): _reference(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_reference(v) for v in value]
    return value


# NUL, a lone surrogate (what undecodable bytes become), Cyrillic, and plain text.
TEXT = st.text(alphabet=st.sampled_from(["a", "б", " ", "\x00", "\udc80", "1", "ё"]), max_size=6)
LEAVES = TEXT | st.integers() | st.none() | st.booleans()
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner)
                      | st.dictionaries(TEXT | st.integers(), inner, max_size=3), max_leaves=10)
ATTRIBUTES = st.dictionaries(TEXT, VALUES, max_size=5) | st.dictionaries(TEXT, TEXT, max_size=8).map(MappingProxyType)


@settings(max_examples=400, deadline=None)
@given(ATTRIBUTES, st.dictionaries(TEXT, TEXT, max_size=4))
def test_attributes_and_source_come_out_as_the_full_copy_made_them(attributes, source):
    request = IngestRequest(channel="form", event_id="e1", received_at=T0, claims=(phone("+79120000001"),),
                            attributes=attributes, source=source)
    stored = storable(request)
    for before, after in ((attributes, stored.attributes), (source, stored.source)):
        copy = _reference(before)
        assert after == copy
        # Kept as given exactly when the copy said nothing changed.
        assert (after is before) == (copy == before)
    assert (stored is request) == (_reference(attributes) == attributes and _reference(source) == source)


def test_a_clean_form_post_is_not_copied():
    request = IngestRequest(channel="form", event_id="default:abc", received_at=T0, claims=(phone("+79120000001"),),
                            name="Алексей Попов", text="Здравствуйте! Перезвоните мне.",
                            attributes={"form": "default", "utm_source": "yandex", "city": "Пермь"},
                            source={"channel": "form", "form": "default"})
    assert storable(request) is request
