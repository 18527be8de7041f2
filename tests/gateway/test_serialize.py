"""A lead's JSON is the same whatever shape its row comes in: ORM object, Core row, or a PATCH's dict of columns."""
from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import create_engine, insert, select

from crm_store.lead_patch import LeadValues
from crm_store.models import Base, Identity, Interaction, Lead
from gateway.api.serialize import identity_json, interaction_json, lead_json

NOW = datetime(2026, 12, 7, 17, 5, 1, 250, tzinfo=UTC)
COLUMNS: dict[str, Any] = dict(
    id=1, contact_id=2, status="won", priority=3, channel="form", source={"form": "site"}, attributes={"a": 1},
    subject="Заявка", notes="", owner_id=None, assignee_id=3, team_id=None, outcome=None, lost_reason=None,
    handed_over_to=None, created_at=NOW, updated_at=NOW, last_activity_at=NOW, closed_at=NOW, pipeline_id=1,
    stage_id=4, stage_entered_at=None, amount=150, currency="RUB", close_date=date(2026, 1, 2), lost_reason_code=None)


def expected(lead: Any) -> dict[str, Any]:
    """Every column by attribute, in the answer's order, times in ISO 8601."""
    times = {"created_at", "updated_at", "last_activity_at", "closed_at", "stage_entered_at", "close_date"}
    return {name: (getattr(lead, name).isoformat() if name in times and getattr(lead, name) else getattr(lead, name))
            for name in COLUMNS}


def test_a_lead_is_shown_alike_from_an_object_a_row_and_a_dict() -> None:
    orm = Lead(**COLUMNS)
    shown = lead_json(orm)
    assert shown == expected(orm) and list(shown) == list(COLUMNS)
    assert shown["closed_at"] == NOW.isoformat() and shown["close_date"] == "2026-01-02"
    assert shown["stage_entered_at"] is None
    assert lead_json(LeadValues(COLUMNS)) == shown
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    table = Lead.__table__
    with engine.begin() as connection:
        connection.execute(insert(table).values(**COLUMNS))
        row = connection.execute(select(*[table.c[name] for name in COLUMNS])).one()
    assert lead_json(row) == shown
    engine.dispose()


def test_an_object_not_fully_loaded_is_read_by_attribute() -> None:
    partial = Lead(id=9, status="new")
    assert lead_json(partial) == expected(partial)


def test_identities_and_interactions_keep_their_keys_and_order() -> None:
    identity = Identity(id=1, kind="phone", value="+79123456789", confidence=1.0)
    assert identity_json(identity) == {"id": 1, "kind": "phone", "value": "+79123456789", "confidence": 1.0}
    item = Interaction(id=5, channel="form", direction="in", text="привет", subject=None, attributes={},
                       author_id=None, delivery=None, contact_id=2, created_at=NOW)
    shown = interaction_json(item)
    assert list(shown) == ["id", "channel", "direction", "text", "subject", "attributes", "author_id", "delivery",
                           "contact_id", "at"]
    assert shown["at"] == NOW.isoformat() and shown["text"] == "привет"
