"""Tasks over the API with the clock in the test's hand: quick choices in the user's zone, My tasks, scoping, 4xx,
and a reply on any channel closing what was owed to the client."""
from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from crm_store.models import AuditEntry, Task
from crm_store.types import Role
from gateway.app import create_app
from gateway.keys import INTAKE, RESPONDERS, SESSIONS
from support.gateway_app import Api, make_settings
from test_replies_and_attachments import RecordingResponder, chat_message
from support.clocks import ManualClock

# Saturday 28 March 2026, noon UTC: Berlin moves its clocks forward on the night to Sunday.
SATURDAY = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock[datetime]:
    return ManualClock(SATURDAY)


@pytest.fixture
async def api(database_url: str, tmp_path, clock: ManualClock[datetime]) -> AsyncIterator[Api]:  # type: ignore[no-untyped-def]
    app = create_app(make_settings(database_url, storage={"dir": str(tmp_path / "files")}), clock=clock)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield Api(client)


async def _json(response, status: int = 200):  # type: ignore[no-untyped-def]
    assert response.status == status, await response.text()
    return await response.json()


async def test_tasks_quick_choices_in_the_users_zone_my_tasks_counts_and_scoping(api, clock):
    olga = await api.add_user("olga", Role.MANAGER, team="sales")
    await api.add_user("ivan", Role.MANAGER, team="support")
    await api.add_user("boss", Role.SUPERVISOR)
    olga_h, ivan_h, boss_h = [await api.login(n) for n in ("olga", "ivan", "boss")]
    me = await _json(await api.client.patch("/api/v1/me", json={"time_zone": "Europe/Berlin"}, headers=olga_h))
    assert me["time_zone"] == "Europe/Berlin"
    bad = await _json(await api.client.patch("/api/v1/me", json={"time_zone": "Mars/Base"}, headers=olga_h), 422)
    assert bad["error"]["field"] == "time_zone"
    # The language is one the console has a dictionary for (operator_ui/static/i18n/languages.json).
    me = await _json(await api.client.patch("/api/v1/me", json={"locale": "ru"}, headers=olga_h))
    assert me["locale"] == "ru" and (await _json(await api.client.get("/api/v1/me", headers=olga_h)))["locale"] == "ru"
    for wrong in ("xx", None, 7):
        bad = await _json(await api.client.patch("/api/v1/me", json={"locale": wrong}, headers=olga_h), 422)
        assert bad["error"]["field"] == "locale", wrong

    lead = (await api.client.app[INTAKE].emit(chat_message("Перезвоните мне"))).lead_id
    await _json(await api.client.patch(f"/api/v1/leads/{lead}", json={"assignee_id": olga}, headers=boss_h))

    quick = await _json(await api.client.get("/api/v1/tasks/quick", headers=olga_h))
    choices = {name: c["due_at"] for name, c in quick["choices"].items()}
    # Sunday is summer time in Berlin (UTC+2): 10:00 local is 08:00 UTC, though today (UTC+1) it would be 09:00.
    assert choices == {"in_1h": "2026-03-28T13:00:00+00:00", "tomorrow_10": "2026-03-29T08:00:00+00:00",
                       "next_monday_10": "2026-03-30T08:00:00+00:00"}

    made = [await _json(await api.client.post("/api/v1/tasks", json={"lead_id": lead, "kind": kind, "due": due,
                                                                      "note": kind}, headers=olga_h), 201)
            for kind, due in (("call", "in_1h"), ("meeting", "tomorrow_10"))]
    # A time without an offset is the user's wall clock: 13:30 in Berlin is 12:30 UTC.
    local = await _json(await api.client.post("/api/v1/tasks", json={"lead_id": lead, "kind": "email",
                                                                      "due_at": "2026-03-28T13:30:00"},
                                              headers=olga_h), 201)
    assert local["due_at"] == "2026-03-28T12:30:00+00:00" and local["due_local"].endswith("13:30:00+01:00")
    assert made[1]["due_local"] == "2026-03-29T10:00:00+02:00" and made[1]["bucket"] == "upcoming"

    mine = await _json(await api.client.get("/api/v1/tasks?view=mine", headers=olga_h))
    assert [t["kind"] for t in mine["items"]] == ["email", "call", "meeting"]
    assert mine["counts"] == {"overdue": 0, "today": 2, "upcoming": 1}

    clock.now = SATURDAY + timedelta(hours=2)          # the call and the e-mail are late now
    counts = await _json(await api.client.get("/api/v1/tasks/counts", headers=olga_h))
    assert counts == {"overdue": 2, "today": 0, "upcoming": 1}
    overdue = await _json(await api.client.get("/api/v1/tasks?view=overdue", headers=boss_h))
    assert [t["id"] for t in overdue["items"]] == [local["id"], made[0]["id"]]      # supervisors: everyone's
    assert (await _json(await api.client.get("/api/v1/tasks/counts", headers=boss_h)))["team_overdue"] == 2

    # Another team sees none of it and can change none of it.
    assert (await _json(await api.client.get("/api/v1/tasks?view=team", headers=ivan_h)))["items"] == []
    refused = await api.client.patch(f"/api/v1/tasks/{made[0]['id']}", json={"done": True}, headers=ivan_h)
    assert refused.status == 403
    assert (await _json(await api.client.post("/api/v1/tasks", json={"lead_id": lead, "due": "in_1h"},
                                              headers=ivan_h), 403))["error"]["code"] == "forbidden"

    done = await _json(await api.client.patch(f"/api/v1/tasks/{made[1]['id']}",
                                              json={"done": True, "result": "met, signed"}, headers=olga_h))
    assert (done["state"], done["result"], done["closed_by"]) == ("done", "met, signed", "user")
    async with api.client.app[SESSIONS]() as session:
        entries = [(a.action, a.outcome) for a in await session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("task%")))]
    assert entries.count(("task.create", "ok")) == 3 and ("task.update", "ok") in entries
    assert ("task.create", "denied") in entries and ("task.update", "denied") in entries   # refusals too


@pytest.mark.parametrize("body, field", [
    ({"lead_id": 1, "kind": "fax", "due": "in_1h"}, "kind"),
    ({"kind": "call", "due": "in_1h"}, "lead_id"),
    ({"lead_id": 1, "kind": "call"}, None),
    ({"lead_id": 1, "due_at": "10000-01-01T00:00:00Z"}, "due_at"),
    ({"lead_id": 1, "due": "someday"}, "due"),
    ({"lead_id": 99999, "due": "in_1h"}, None),
    ({"lead_id": 1, "due": "in_1h", "assignee_id": 424242}, "assignee_id"),
])
async def test_bad_task_input_is_a_4xx_naming_the_field(api, body, field):
    await api.add_user("boss", Role.SUPERVISOR)
    headers = await api.login("boss")
    await api.client.app[INTAKE].emit(chat_message("hi"))
    response = await api.client.post("/api/v1/tasks", json=body, headers=headers)
    assert 400 <= response.status < 500, await response.text()
    if field is not None:
        assert (await response.json())["error"]["field"] == field
    bad_view = await api.client.get("/api/v1/tasks?view=everything", headers=headers)
    assert bad_view.status == 422 and (await bad_view.json())["error"]["field"] == "view"


async def test_a_reply_on_any_channel_closes_the_clients_call_message_and_email_tasks(api, clock):
    api.client.app[RESPONDERS]["chat"] = RecordingResponder()
    await api.add_user("boss", Role.SUPERVISOR)
    headers = await api.login("boss")
    lead = (await api.client.app[INTAKE].emit(chat_message("Жду звонка"))).lead_id
    ids = {kind: (await _json(await api.client.post("/api/v1/tasks", json={"lead_id": lead, "kind": kind,
                                                                            "due": "in_1h"}, headers=headers), 201))["id"]
           for kind in ("call", "message", "email", "meeting")}
    await _json(await api.client.post(f"/api/v1/leads/{lead}/reply", json={"text": "Добрый день"},
                                      headers=headers), 201)
    async with api.client.app[SESSIONS]() as session:
        rows = {t.kind: (t.state, t.closed_by) for t in await session.scalars(select(Task))}
    assert rows == {"call": ("done", "reached:chat"), "message": ("done", "reached:chat"),
                    "email": ("done", "reached:chat"), "meeting": ("open", None)}
    assert set(ids) == set(rows)
