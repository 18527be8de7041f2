"""An accepted offer assigns its lead as `leads.assign` does: assignee, team, status, the client's first
manager, and the stage following the status with the change written down (routing writes it in Core)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from crm_store import leads as store_leads
from crm_store import routing_log
from crm_store.ingest import Ingestor
from crm_store.models import Contact, Lead, StageChange
from crm_store.routing_batch import OfferAccepted, OfferMade, RoutingChanges
from crm_store.types import Role, RoutingHint
from crm_store.users import NewUser, create_user
from factories import T0, phone, request


def shown(lead: Lead, contact: Contact) -> tuple[object, ...]:
    return (lead.status, lead.assignee_id, lead.team_id, lead.owner_id, lead.stage_id, lead.stage_entered_at,
            lead.updated_at, contact.owner_id)


async def test_an_accept_assigns_as_the_store_does_stage_and_its_change_included(engine, sessions):
    async with sessions() as s, s.begin():
        ann = await create_user(s, NewUser("ann", "correct horse", Role.OPERATOR, team="sales"), T0)
        bob = await create_user(s, NewUser("bob", "correct horse", Role.OPERATOR), T0)
    at = T0 + timedelta(minutes=5)
    async with Ingestor(engine, clock=lambda: T0) as ingestor:
        routed = [await ingestor.ingest(request(phone(f"+7916444000{n}"), routing=RoutingHint("default", "web")))
                  for n in range(2)]
        by_hand = [await ingestor.ingest(request(phone(f"+7916444001{n}"))) for n in range(2)]
        async with sessions() as s, s.begin():      # a client someone already looks after: the lead keeps its owner
            await s.get(Lead, routed[1].lead_id)
            (await s.get(Contact, routed[1].contact_id)).owner_id = bob.id
            (await s.get(Contact, by_hand[1].contact_id)).owner_id = bob.id
        changes = []
        for n, stored in enumerate(routed):
            async with sessions() as s:
                task = await routing_log.open_task_for_lead(s, stored.lead_id)
            changes += [OfferMade(f"o{n}", task.id, ann.id, T0, T0 + timedelta(minutes=1), {}),
                        OfferAccepted(f"o{n}", task.id, ann.id)]
        await ingestor.record_routing(RoutingChanges(at, tuple(changes), ()))
    async with sessions() as s, s.begin():
        for stored in by_hand:
            await store_leads.assign(s, stored.lead_id, ann.id, at)
    async with sessions() as s:
        got = [shown(await s.get(Lead, x.lead_id), await s.get(Contact, x.contact_id)) for x in routed + by_hand]
        moves = {row.lead_id: (row.from_stage_id, row.to_stage_id, row.at, row.user_id)
                 for row in await s.scalars(select(StageChange).where(StageChange.to_stage_id != StageChange.from_stage_id))}
    # The same, but that routing's stage is entered when the offer was taken (leads.assign's flush runs before
    # it sets updated_at, and enters it at the lead's previous update).
    assert [g[:5] + g[6:] for g in got[:2]] == [g[:5] + g[6:] for g in got[2:]]
    assert got[0][:4] == ("assigned", ann.id, ann.team_id, ann.id) and got[1][3] is None and got[1][-1] == bob.id
    assert got[0][4] is not None and got[0][5] == got[1][5] == at      # moved to the stage of "assigned"
    assert [moves[x.lead_id] for x in routed] == [(*moves[x.lead_id][:2], at, None) for x in by_hand]
