"""JSON columns are written and read by orjson; what only json writes or reads (as it did before) still is."""
from __future__ import annotations

import json
import math

import pytest
from sqlalchemy import select

from crm_store import json_columns
from crm_store.models import Contact, Lead
from crm_store.session import create_sync_engine
from factories import T0

HUGE = 2 ** 70      # past orjson's 64 bits
DOCUMENT = {"form": "shop", "name": "Иван Петров", "utm": {"source": "yandex"}, "n": [1, 2.5, None, True]}


def test_what_orjson_writes_reads_back_as_json_wrote_it() -> None:
    for value in (DOCUMENT, {}, [], {"big": HUGE}, {1: "one"}, "текст"):
        assert json.loads(json_columns.dumps(value)) == json.loads(json.dumps(value))
    with pytest.raises(TypeError):         # not JSON, as before
        json_columns.dumps({"at": T0})


def test_what_orjson_reads_and_what_only_json_reads_are_read_alike() -> None:
    assert json_columns.loads(json.dumps(DOCUMENT)) == DOCUMENT
    assert json_columns.loads(json.dumps({"big": HUGE})) == {"big": HUGE}
    assert math.isnan(json_columns.loads(json.dumps({"x": float("nan")}))["x"])
    assert json_columns.loads(b"[]") == []


def test_every_engine_reads_its_json_columns_with_it(engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    writer = create_sync_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")      # the SQLite writer thread's
    for dialect in (engine.sync_engine.dialect, writer.dialect):
        assert (dialect._json_serializer, dialect._json_deserializer) == (json_columns.dumps, json_columns.loads)
    writer.dispose()


async def test_a_lead_s_attributes_read_back_as_written(sessions) -> None:  # type: ignore[no-untyped-def]
    attributes = {**DOCUMENT, "big": HUGE}
    async with sessions() as session, session.begin():
        contact = Contact(display_name="Иван", created_at=T0, updated_at=T0)
        session.add(contact)
        await session.flush()
        session.add(Lead(contact_id=contact.id, status="new", channel="form", attributes=attributes,
                         created_at=T0, updated_at=T0, last_activity_at=T0))
    async with sessions() as session:
        assert await session.scalar(select(Lead.attributes)) == attributes
