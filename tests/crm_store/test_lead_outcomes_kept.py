"""Outcomes are never erased: a won or lost deal stays; a resolved ticket reopens; the system says why."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from crm_store.ingest import Ingestor
from crm_store.models import AuditEntry, Interaction, Lead, User
from crm_store.resolution import JoinPolicy
from crm_store.types import LeadStatus
from factories import T0, email, phone, request
from support.clocks import ManualClock


@pytest.fixture
def clock() -> ManualClock[datetime]:
    return ManualClock(T0)


@pytest.fixture
async def ingestor(engine, clock):  # type: ignore[no-untyped-def]
    async with Ingestor(engine, JoinPolicy(reopen_window=timedelta(hours=72)), clock=clock) as running:
        yield running


async def _close(sessions, lead_id: int, status: LeadStatus, outcome: str, at) -> None:  # type: ignore[no-untyped-def]
    async with sessions() as s, s.begin():
        lead = await s.get(Lead, lead_id)
        lead.status, lead.outcome, lead.closed_at = status, outcome, at
        if status == LeadStatus.LOST:
            lead.lost_reason = "too expensive"


@pytest.mark.parametrize("status", [LeadStatus.WON, LeadStatus.LOST])
async def test_a_client_back_after_a_finished_deal_starts_a_new_lead_and_the_old_one_stays(
        ingestor, sessions, clock, status):
    async with sessions() as s, s.begin():
        olga = User(username="olga", display_name="Olga", role="manager", password_hash="x", created_at=T0)
        s.add(olga)
    first = await ingestor.ingest(request(phone("+79123456789")))
    async with sessions() as s, s.begin():
        from crm_store import leads
        await leads.assign(s, first.lead_id, olga.id, T0)
    await _close(sessions, first.lead_id, status, str(status), clock.now)
    clock.now += timedelta(hours=1)
    again = await ingestor.ingest(request(phone("+79123456789"), text="one more order"))
    assert again.created_lead and not again.reopened and again.lead_id != first.lead_id
    assert again.contact_id == first.contact_id and again.owner_id == olga.id
    async with sessions() as s:
        old = await s.get(Lead, first.lead_id)
        new = await s.get(Lead, again.lead_id)
        audit = list(await s.scalars(select(AuditEntry).where(AuditEntry.lead_id == again.lead_id)))
        notes = list(await s.scalars(select(Interaction).where(Interaction.lead_id == again.lead_id,
                                                               Interaction.channel == "system")))
    assert (old.status, old.outcome, old.closed_at) == (status, str(status), T0)
    assert new.attributes["previous_lead_id"] == first.lead_id and new.owner_id == olga.id
    assert [(a.action, a.user_id, a.detail["actor"]) for a in audit] == [("lead.followed_up", None, "system")]
    assert f"lead {first.lead_id} was {status}" in audit[0].detail["reason"]
    assert [n.direction for n in notes] == ["internal"] and f"lead {first.lead_id}" in notes[0].text


async def test_a_resolved_ticket_reopens_in_the_window_with_its_reason_on_the_timeline(ingestor, sessions, clock):
    first = await ingestor.ingest(request(email("a@example.com"), channel="email"))
    await _close(sessions, first.lead_id, LeadStatus.CLOSED, "resolved", clock.now)
    clock.now += timedelta(hours=5)
    again = await ingestor.ingest(request(email("a@example.com"), channel="email", text="still broken"))
    assert again.reopened and again.lead_id == first.lead_id and again.lead_status == LeadStatus.NEW
    async with sessions() as s:
        audit = list(await s.scalars(select(AuditEntry).where(AuditEntry.lead_id == first.lead_id)))
        timeline = list(await s.scalars(select(Interaction).where(Interaction.lead_id == first.lead_id)
                                        .order_by(Interaction.id)))
    assert [(a.action, a.user_id, a.detail["actor"], a.detail["outcome"]) for a in audit] == [
        ("lead.reopened", None, "system", "resolved")]
    assert [(i.channel, i.direction) for i in timeline] == [("email", "inbound"), ("system", "internal"),
                                                            ("email", "inbound")]
    assert "reopen window" in timeline[1].text
    assert timeline[2].attributes["joined_because"] == audit[0].detail["reason"]


async def test_a_join_into_an_open_lead_is_audited_as_the_systems_doing(ingestor, sessions):
    first = await ingestor.ingest(request(phone("+79123456789")))
    again = await ingestor.ingest(request(phone("+79123456789")))
    assert again.lead_id == first.lead_id
    async with sessions() as s:
        audit = list(await s.scalars(select(AuditEntry).where(AuditEntry.lead_id == first.lead_id)))
    assert [(a.action, a.user_id, a.detail["reason"]) for a in audit] == [
        ("lead.joined", None, "the client's open lead")]
