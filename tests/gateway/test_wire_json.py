"""Frames and API answers encoded by orjson read back as the standard library's encoding did."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum

from hypothesis import given
from hypothesis import strategies as st

from gateway.hub import encoded, frame
from gateway.api.serialize import json_response
from gateway.wire_json import dumps, iso


class Kind(StrEnum):
    PHONE = "phone"


@dataclass(frozen=True)
class Point:
    x: int


def old(value: object) -> str:
    """What the frames were before: `json.dumps(value, ensure_ascii=False, default=str)`."""
    return json.dumps(value, ensure_ascii=False, default=str)


def test_the_same_json_as_the_standard_library_compact_and_not_escaped() -> None:
    at = datetime(2026, 12, 7, 17, 5, 1, 250, tzinfo=UTC)
    value = {"text": "Здравствуйте, \"кавычки\" и \n строки", "at": at, "day": date(2026, 1, 2), "n": 10 ** 30,
             "amount": Decimal("1.50"), "kind": Kind.PHONE, "point": Point(3), "by_priority": {0: 2, 50: 1},
             "none": None, "ok": True, "list": [1, 2.5, "три"], "tags": ("a", "b"), "ids": frozenset({7})}
    out = dumps(value)
    assert json.loads(out) == json.loads(old(value))
    assert "Здравствуйте".encode() in out                  # as ensure_ascii=False wrote it
    assert dumps({"a": 1, "b": [2, 3]}) == b'{"a":1,"b":[2,3]}'     # compact: nobody reads the blanks


def test_values_orjson_leaves_to_str_are_written_as_before() -> None:
    at = datetime(2026, 12, 7, 17, 5, 1, tzinfo=UTC)
    assert json.loads(dumps({"at": at, "point": Point(1)})) == {"at": str(at), "point": str(Point(1))}
    assert dumps({"id": 10 ** 30}) == b'{"id":1000000000000000000000000000000}'   # beyond 64 bits: the stdlib's
    assert dumps({"a": [1, {"b": "ё"}]}) == '{"a":[1,{"b":"ё"}]}'.encode()


def test_a_frame_is_its_type_and_data_encoded_once() -> None:
    data = {"lead_id": 5, "card": {"contact": {"display_name": "Анна"}}}
    assert encoded("offer.created", data) == frame("offer.created", data).encode()
    assert json.loads(encoded("offer.created", data)) == {"type": "offer.created", "data": data}


def test_json_response_says_json_in_utf_8() -> None:
    response = json_response({"name": "Анна"}, status=201)
    assert response.status == 201 and response.content_type == "application/json" and response.charset == "utf-8"
    assert response.body == '{"name":"Анна"}'.encode()


@given(st.datetimes(timezones=st.sampled_from([None, UTC])) | st.dates())
def test_iso_is_isoformat(value: date) -> None:
    assert iso(value) == value.isoformat()


def test_iso_of_other_zones_and_of_nothing() -> None:
    odd = datetime(1800, 1, 1, 12, tzinfo=timezone(timedelta(hours=2, minutes=30, seconds=17)))
    assert iso(odd) == odd.isoformat() == "1800-01-01T12:00:00+02:30:17"
    assert iso(None) is None
