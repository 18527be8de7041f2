"""Manager report, agent activity and exports through the real server: figures, role scoping, files read back."""
from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import openpyxl
import pytest

from crm_store import activity, calls, routing_log
from crm_store.ingest import utcnow
from crm_store.models import Interaction, Lead, Task, User
from crm_store.types import Claim, IngestRequest, Role
from gateway.keys import INGESTOR, SESSIONS
from support.gateway_app import Api
from support.screens import screen

DAY = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
PERIOD = "from=2026-11-10&to=2026-11-10"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"reports": {"timezone": "Europe/Moscow", "rating": {"offers_accepted": 1.0, "offers_timed_out": -2.0,
                                                                 "leads_won": 5.0}}}


async def _lead(api: Api, name: str = "Client") -> int:
    request = IngestRequest(channel="form", event_id=uuid.uuid4().hex, received_at=DAY, name=name,
                            claims=(Claim("phone", f"+7916{uuid.uuid4().int % 10**7:07d}", True, "stated"),),
                            primary_kind="phone", source={"utm_source": "ads"})
    return (await api.client.app[INGESTOR].ingest(request)).lead_id


async def _offers(api: Api, lead_id: int, agent: int, outcomes: list[str], at: datetime = DAY) -> None:
    """Offers of one task of the lead to `agent`, each decided 10 s * (n + 1) after it was made."""
    async with api.client.app[SESSIONS]() as session, session.begin():
        task_id = f"lead:{lead_id}:{uuid.uuid4().hex[:8]}"
        routing_log.add_task_row(session, task_id, lead_id=lead_id, kind="lead", channel="chat", queue="default",
                                 priority=0, owner_id=None, created_at=at)
        await session.flush()
        for n, outcome in enumerate(outcomes):
            offer_id = f"{task_id}:{n}"
            await routing_log.record_offer(session, offer_id, task_id, agent, at, at + timedelta(minutes=2), {})
            await session.flush()
            await routing_log.close_offer(session, offer_id, outcome, at + timedelta(seconds=10 * (n + 1)))


async def _won(api: Api, lead_id: int, agent: int, at: datetime = DAY) -> None:
    async with api.client.app[SESSIONS]() as session, session.begin():
        lead = await session.get(Lead, lead_id)
        lead.assignee_id, lead.status, lead.outcome, lead.closed_at = agent, "won", "won", at


async def _task(api: Api, lead_id: int, agent: int, due: datetime, done_at: datetime | None = None) -> None:
    async with api.client.app[SESSIONS]() as session, session.begin():
        lead = await session.get(Lead, lead_id)
        session.add(Task(lead_id=lead_id, contact_id=lead.contact_id, kind="call", state="done" if done_at else "open",
                         due_at=due, assignee_id=agent, created_at=DAY, updated_at=done_at or DAY))


async def _people(api: Api) -> dict[str, int]:
    return {"sam": await api.add_user("sam", Role.MANAGER, team="sales"),
            "olga": await api.add_user("olga", Role.OPERATOR, team="sales"),
            "sue": await api.add_user("sue", Role.MANAGER, team="support"),
            "boss": await api.add_user("boss", Role.SUPERVISOR)}


async def _report(api: Api, headers: dict[str, str], query: str = PERIOD) -> tuple[int, Any]:
    response = await api.client.get(f"/api/v1/reports/managers?{query}", headers=headers)
    return response.status, await response.json()


async def test_manager_report_counts_rates_and_ranks(api: Api) -> None:
    who = await _people(api)
    lead = await _lead(api)
    await _offers(api, lead, who["olga"], ["timeout", "rejected", "accepted"])
    await _offers(api, await _lead(api), who["sam"], ["accepted"])
    await _won(api, lead, who["olga"])
    await _task(api, lead, who["sam"], due=DAY + timedelta(hours=2), done_at=DAY + timedelta(hours=1))   # on time
    await _task(api, lead, who["olga"], due=DAY + timedelta(hours=2), done_at=DAY + timedelta(hours=3))  # late
    await _task(api, lead, who["olga"], due=DAY + timedelta(hours=4))                  # still open, long past due
    await _task(api, lead, who["olga"], due=DAY + timedelta(days=3))                   # due after the period
    # 22:30 UTC on the 9th is 01:30 on the 10th in Moscow: the company's day, not UTC's.
    await _offers(api, await _lead(api), who["sam"], ["accepted"], at=datetime(2026, 11, 9, 22, 30, tzinfo=UTC))
    await _offers(api, await _lead(api), who["sam"], ["accepted"], at=datetime(2026, 11, 10, 21, 30, tzinfo=UTC))
    status, body = await _report(api, await api.login("boss"))
    assert status == 200, body
    rows = {r["display_name"]: r for r in body["rows"]}
    assert set(rows) == {"sam", "olga", "sue"}          # the supervisor takes no work: not a row
    olga, sam = rows["olga"], rows["sam"]
    assert (olga["offers_received"], olga["offers_accepted"], olga["offers_declined"], olga["offers_timed_out"]) \
        == (3, 1, 1, 1)
    assert olga["accept_median_seconds"] == 30.0 and olga["leads_won"] == 1 and olga["conversion"] == 1.0
    assert sam["offers_accepted"] == 2                   # 01:30 Moscow counted, 00:30 of the 11th not
    assert (sam["tasks_done"], sam["tasks_overdue"]) == (1, 0)
    assert (olga["tasks_done"], olga["tasks_overdue"]) == (1, 2)
    assert olga["score"] == 1 - 2 + 5 and sam["score"] == 2
    assert [r["display_name"] for r in body["rows"]][:2] == ["olga", "sam"] and body["rows"][0]["rank"] == 1


async def test_every_report_is_scoped_to_the_viewers_team(api: Api) -> None:
    who = await _people(api)
    for name in ("sam", "olga", "sue"):
        await _offers(api, await _lead(api), who[name], ["accepted"])
    sam, sue, olga, boss = [await api.login(n) for n in ("sam", "sue", "olga", "boss")]

    async def names(headers: dict[str, str], query: str = PERIOD) -> set[str]:
        status, body = await _report(api, headers, query)
        assert status == 200, body
        return {r["display_name"] for r in body["rows"]}

    assert await names(sam) == {"sam", "olga"}
    assert await names(sue) == {"sue"}
    assert await names(boss) == {"sam", "olga", "sue"}
    support = (await _report(api, sue))[1]
    assert support["rows"][0]["user_id"] == who["sue"]
    status, body = await _report(api, sam, f"{PERIOD}&team=999999")
    assert status == 403 and body["error"]["field"] == "team"
    assert (await _report(api, olga))[0] == 403
    for fmt in ("csv", "xlsx"):
        response = await api.client.get(f"/api/v1/reports/managers?{PERIOD}&format={fmt}", headers=sue)
        assert response.status == 200
        assert {row[2] for row in _table(fmt, await response.read())[1:]} == {"sue"}
    sources = await api.client.get(f"/api/v1/reports/sources?{PERIOD}", headers=olga)
    assert sources.status == 403

    # An agent's day: themselves, their manager's team, supervisors; nobody else even learns they exist.
    for headers, agent, expected in ((olga, "olga", 200), (sam, "olga", 200), (boss, "olga", 200),
                                     (sue, "olga", 404), (olga, "sam", 404)):
        response = await api.client.get(f"/api/v1/agents/{who[agent]}/activity?day=2026-11-10", headers=headers)
        assert response.status == expected, (agent, await response.text())
    bad = await api.client.get(f"/api/v1/reports/managers?from=2026-11-10&to=2026-11-01", headers=boss)
    assert bad.status == 422 and (await bad.json())["error"]["field"] == "to"
    assert (await api.client.get(f"/api/v1/reports/managers?format=pdf", headers=boss)).status == 422


def _table(fmt: str, data: bytes) -> list[list[Any]]:
    if fmt == "csv":
        return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).active
    return [["" if v is None else v for v in row] for row in sheet.iter_rows(values_only=True)]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_lead_export_has_one_row_per_lead_with_routing_and_no_formulas(api: Api, fmt: str) -> None:
    who = await _people(api)
    first = await _lead(api, name="=HYPERLINK(\"http://evil\")")
    second = await _lead(api, name="Иван Петров")
    await _offers(api, first, who["olga"], ["rejected", "accepted"])
    async with api.client.app[SESSIONS]() as session, session.begin():
        for lead_id in (first, second):
            (await session.get(Lead, lead_id)).team_id = None
    boss = await api.login("boss")
    response = await api.client.get(f"/api/v1/exports/leads?format={fmt}", headers=boss)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Disposition"].startswith("attachment")
    rows = _table(fmt, await response.read())
    header, body = rows[0], {int(r[0]): dict(zip(rows[0], r)) for r in rows[1:]}
    assert "routing_why" in header and set(body) == {first, second}
    assert body[first]["client"] == "'=HYPERLINK(\"http://evil\")"
    assert body[second]["client"] == "Иван Петров"
    assert body[first]["source"] == "utm_source=ads" and int(body[first]["offers"]) == 2
    assert body[first]["routed_to"] == "olga"
    # A manager's export holds only what they see.
    sam = await api.login("sue")
    mine = _table(fmt, await (await api.client.get(f"/api/v1/exports/leads?format={fmt}",
                                                   headers=sam)).read())
    assert len(mine) == 1
    audit = await (await api.client.get("/api/v1/audit?action=leads.export", headers=boss)).json()
    assert [e["username"] for e in audit["items"]] == ["sue", "boss"]


async def test_presence_changes_from_the_screen_are_the_agents_day(api: Api) -> None:
    olga = await api.add_user("olga", Role.OPERATOR)
    await api.add_user("boss", Role.SUPERVISOR)
    async with screen(api, "olga") as s:
        await s.send("presence.set", presence="break", reason="coffee")
        await s.send("presence.set", presence="break", reason="coffee")     # the same again: no new row
        await s.send("presence.set", presence="lunch")
        for _ in range(10):
            if (await s.expect("presence.changed"))["presence"] == "lunch":
                break
    boss = await api.login("boss")
    async with api.client.app[SESSIONS]() as session:
        spans = await activity.spans(session, olga, utcnow() - timedelta(hours=1), utcnow() + timedelta(hours=1))
    assert [(s.state, s.reason, s.source) for s in spans][:3] == [
        ("available", None, "console"), ("break", "coffee", "console"), ("lunch", None, "console")]
    response = await api.client.get(f"/api/v1/agents/{olga}/activity", headers=boss)
    body = await response.json()
    assert [s["state"] for s in body["spans"]][:3] == ["available", "break", "lunch"]
    assert body["spans"][0]["ended_at"] == body["spans"][1]["started_at"]
    export = await api.client.get(f"/api/v1/agents/{olga}/activity?format=csv", headers=boss)
    assert [r[2] for r in _table("csv", await export.read())[1:4]] == ["available", "break", "lunch"]


async def test_time_in_states_clips_to_the_period(sessions) -> None:  # type: ignore[no-untyped-def]
    from crm_store.users import NewUser, create_user
    async with sessions() as session, session.begin():
        user = await create_user(session, NewUser("ann", "long enough pw", Role.OPERATOR), DAY)
        for minutes, state, reason in ((-30, "available", None), (60, "break", "coffee"), (75, "on_call", None)):
            await activity.record_change(session, user.id, state, reason, "console", DAY + timedelta(minutes=minutes))
        spent = await activity.time_in_states(session, [user.id], DAY, DAY + timedelta(hours=2),
                                              DAY + timedelta(hours=3))
    assert spent[user.id] == {"available": 3600.0, "break": 900.0, "break:coffee": 900.0, "on_call": 2700.0}


async def test_hourly_history_is_the_company_clocks(api: Api) -> None:
    who = await _people(api)
    lead = await _lead(api)
    await _offers(api, lead, who["olga"], ["timeout", "accepted"], at=datetime(2026, 11, 9, 21, 15, tzinfo=UTC))
    boss = await api.login("boss")
    body = await (await api.client.get("/api/v1/reports/hourly?day=2026-11-10", headers=boss)).json()
    assert body["hours"] == [{"hour": "2026-11-10T00:00:00+03:00", "offers": 2, "accepted": 1, "missed": 1,
                              "leads": 0}]
    olga = await api.login("olga")
    assert (await api.client.get("/api/v1/reports/hourly", headers=olga)).status == 403


async def test_the_wallboard_counts_only_those_taking_work(api: Api) -> None:
    await api.add_user("olga", Role.OPERATOR)
    await api.add_user("boss", Role.SUPERVISOR)
    boss = await api.login("boss")
    async with screen(api, "olga"), screen(api, "boss", available=False):
        stats = await (await api.client.get("/api/v1/queues/stats", headers=boss)).json()
    rows = {a["display_name"]: a for a in stats["agents"]}
    assert set(rows) == {"olga"} and rows["olga"]["state"] == "available"


def test_presence_and_activity_never_contradict() -> None:
    from gateway.frames import priority_level, shown_state
    assert shown_state("offline", None, "offline", True) == "on_call"          # the PBX says talking
    assert shown_state("break", "disconnected", "on_call", None) == "break"   # screen gone: not talking
    assert shown_state("available", None, "on_call", False) == "available"    # no call the PBX knows
    assert shown_state("available", None, "on_call", None) == "on_call"
    assert [priority_level(p) for p in (90, 10, 1, 0, -5)] == ["urgent", "high", "raised", "normal", "low"]


async def _call(api: Api, lead_id: int, direction: str, attributes: dict[str, Any], at: datetime = DAY) -> int:
    """A call's interaction, then its record written as the voice service writes it (crm_store.calls)."""
    async with api.client.app[SESSIONS]() as session, session.begin():
        lead = await session.get(Lead, lead_id)
        call = Interaction(lead_id=lead_id, contact_id=lead.contact_id, channel="voice", direction=direction,
                           event_id=uuid.uuid4().hex, text="", attributes={"status": "ringing"}, created_at=at)
        session.add(call)
        await session.flush()
        await session.run_sync(lambda sync: calls.update_calls(sync, {call.id: {"status": "ended", **attributes}}))
        return call.id


async def test_calls_and_first_responses_in_the_manager_report(api: Api) -> None:
    who = await _people(api)
    olga, sam = who["olga"], who["sam"]
    lead = await _lead(api)
    # Ring-all: both phones rang, Olga answered (90 s); recorded twice (a rewrite replaces the facts).
    ring_all = {"outcome": "answered", "answered_by": olga, "talk_seconds": 90.0, "queue": "default",
                "legs": [{"user_id": olga, "answered": True}, {"user_id": sam, "answered": False}]}
    call_id = await _call(api, lead, "inbound", ring_all)
    async with api.client.app[SESSIONS]() as session, session.begin():
        await session.run_sync(lambda sync: calls.update_calls(sync, {call_id: {"status": "ended", **ring_all}}))
    await _call(api, lead, "outbound", {"outcome": "no_answer", "placed_by": sam, "talk_seconds": 0})
    await _call(api, lead, "outbound", {"outcome": "answered", "placed_by": sam, "talk_seconds": 30.5})
    await _call(api, lead, "inbound", {"outcome": "answered", "answered_by": sam, "talk_seconds": 10.0,
                                       "legs": [{"user_id": sam, "answered": True}]},
                at=DAY + timedelta(days=2))                                   # another day: not counted
    # A chat task Olga took at 09:00 and answered a minute later (on another lead: a call is an answer too).
    lead = await _lead(api, "Chat")
    async with api.client.app[SESSIONS]() as session, session.begin():
        routing_log.add_task_row(session, f"lead:{lead}:fr", lead_id=lead, kind="lead", channel="telegram",
                                 queue="default", priority=0, owner_id=None, created_at=DAY)
        await session.flush()
        await routing_log.set_task_state(session, f"lead:{lead}:fr", "assigned", DAY + timedelta(seconds=5), olga)
        contact_id = (await session.get(Lead, lead)).contact_id
        session.add(Interaction(lead_id=lead, contact_id=contact_id, channel="telegram", direction="outbound",
                                event_id=uuid.uuid4().hex, text="hello", attributes={}, author_id=olga,
                                created_at=DAY + timedelta(seconds=60)))
    status, body = await _report(api, await api.login("boss"))
    assert status == 200, body
    rows = {r["display_name"]: r for r in body["rows"]}
    o, s = rows["olga"], rows["sam"]
    assert (o["calls_in"], o["calls_in_answered"], o["calls_in_missed"], o["talk_seconds"]) == (1, 1, 0, 90.0)
    assert (s["calls_in"], s["calls_in_answered"], s["calls_in_missed"]) == (1, 0, 1)
    assert (s["calls_out"], s["calls_out_answered"], s["calls_out_missed"], s["talk_seconds"]) == (2, 1, 1, 30.5)
    assert o["aht_seconds"] == 90.0 and s["aht_seconds"] == 30.5
    assert o["first_response_seconds"] == 60.0 and o["first_response_by_channel"] == {"telegram": 60.0}
    assert o["messages_answered"] == 1 and o["emails_answered"] == 0
    status, queued = await _report(api, await api.login("boss"), f"{PERIOD}&queue=default")
    assert status == 200 and {r["display_name"]: r["calls_in"] for r in queued["rows"]} == {"olga": 1, "sam": 1,
                                                                                             "sue": 0}
    assert {r["display_name"]: r["calls_out"] for r in queued["rows"]}["sam"] == 0     # no queue on those


async def test_sources_hourly_and_funnel_are_the_managers_team_only(api: Api) -> None:
    who = await _people(api)
    ours, theirs = await _lead(api, "Ours"), await _lead(api, "Theirs")
    async with api.client.app[SESSIONS]() as session, session.begin():
        sales_team = (await session.get(User, who["sam"])).team_id
        support_team = (await session.get(User, who["sue"])).team_id
        (await session.get(Lead, ours)).team_id = sales_team
        (await session.get(Lead, theirs)).team_id = support_team
    await _offers(api, ours, who["olga"], ["accepted"])
    await _offers(api, theirs, who["sue"], ["timeout", "accepted"])
    sam, boss = await api.login("sam"), await api.login("boss")

    async def get(path: str, headers: dict[str, str]) -> Any:
        response = await api.client.get(path, headers=headers)
        assert response.status == 200, await response.text()
        return await response.json()

    # The leads were stored today (ingest's clock), the offers made on the 10th of November.
    assert sum(r["leads"] for r in (await get("/api/v1/reports/sources?period=today", sam))["rows"]) == 1
    assert sum(r["leads"] for r in (await get("/api/v1/reports/sources?period=today", boss))["rows"]) == 2
    assert sum(h["leads"] for h in (await get("/api/v1/reports/hourly", sam))["hours"]) == 1
    assert sum(h["leads"] for h in (await get("/api/v1/reports/hourly", boss))["hours"]) == 2
    assert sum(h["offers"] for h in (await get("/api/v1/reports/hourly?day=2026-11-10", sam))["hours"]) == 1
    assert sum(h["offers"] for h in (await get("/api/v1/reports/hourly?day=2026-11-10", boss))["hours"]) == 3
    teams = (await get(f"/api/v1/reports/managers?{PERIOD}", sam))["teams"]
    assert [t["name"] for t in teams] == ["sales"]
    assert {t["name"] for t in (await get(f"/api/v1/reports/managers?{PERIOD}", boss))["teams"]} == {"sales",
                                                                                                     "support"}
    # The funnel as files: one row per stage, the manager's leads only.
    pipeline = (await get("/api/v1/pipelines", boss))["items"][0]
    for fmt, headers, entered in (("csv", sam, 1), ("xlsx", boss, 2)):
        response = await api.client.get(f"/api/v1/reports/funnel?pipeline={pipeline['id']}&format={fmt}",
                                        headers=headers)
        assert response.status == 200, await response.text()
        table = _table(fmt, await response.read())
        assert table[0][:3] == ["stage", "kind", "entered"]
        assert [r[0] for r in table[1:]] == [s["name"] for s in pipeline["stages"]]
        assert int(table[1][2]) == entered
    bad = await api.client.get(f"/api/v1/reports/funnel?pipeline={pipeline['id']}&format=pdf", headers=boss)
    assert bad.status == 422 and (await bad.json())["error"]["field"] == "format"
