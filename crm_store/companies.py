"""Companies: the organisations clients belong to, seen like leads (their owner, their team, supervisors).

A company's contacts and leads are shown only as far as the viewer sees them. Its search text is
normalised like a lead's (crm_store.search) and the leads of its people carry its name, so typing a
company's name in the console's search finds its people's leads too.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from crm_store import search
from crm_store.clients import seen_contact
from crm_store.errors import Forbidden, Invalid, NotFound
from crm_store.fields import Entity, checked_values
from crm_store.leads import get_visible, is_own
from crm_store.models import Company, Contact, ContactCompany, Lead, User
from crm_store.reach import contact_seen_by, lead_seen_by
from crm_store.types import Permissions, Viewer

LIST_LIMIT = 50


@dataclass(frozen=True, slots=True)
class CompanyData:
    """A company as typed in; phones and e-mails come normalised by the caller. None leaves a value as it is."""

    name: str | None = None
    tax_id: str | None = None
    addresses: tuple[str, ...] | None = None
    phones: tuple[str, ...] | None = None
    emails: tuple[str, ...] | None = None
    fields: dict[str, Any] | None = None


def company_seen_by(viewer: Viewer) -> ColumnElement[bool]:
    if viewer.role.sees_everything:
        return true()
    mine = Company.owner_id == viewer.user_id
    return or_(mine, Company.team_id == viewer.team_id) if viewer.team_id is not None else mine


def document(company: Company) -> str:
    return search.document(company.name, [("phone", p) for p in company.phones or ()] +
                           [("email", e) for e in company.emails or ()],
                           company.tax_id, " ".join(company.addresses or ()), None)


async def seen_company(session: AsyncSession, viewer: Viewer, company_id: int) -> Company:
    company = await session.scalar(select(Company).where(Company.id == company_id, Company.deleted_at.is_(None),
                                                         company_seen_by(viewer)))
    if company is None:
        raise NotFound(f"company {company_id} not found")
    return company


def _clean(values: Sequence[str], limit: int, what: str) -> list[str]:
    out = []
    for raw in values:
        text = " ".join(raw.split())
        if text and text not in out:
            out.append(text[:limit])
    if len(out) > 20:
        raise Invalid(f"a company has at most 20 {what}", what)
    return out


async def _apply(session: AsyncSession, company: Company, data: CompanyData) -> dict[str, Any]:
    diff: dict[str, Any] = {}

    def put(name: str, value: Any) -> None:
        if getattr(company, name) != value:
            diff[name] = [getattr(company, name), value]
            setattr(company, name, value)

    if data.name is not None:
        name = " ".join(data.name.split())
        if not name:
            raise Invalid("a company needs a name", "name")
        put("name", name[:300])
    if data.tax_id is not None:
        put("tax_id", "".join(data.tax_id.split())[:40] or None)
    if data.addresses is not None:
        put("addresses", _clean(data.addresses, 500, "addresses"))
    if data.phones is not None:
        put("phones", _clean(data.phones, 40, "phones"))
    if data.emails is not None:
        put("emails", _clean(data.emails, 320, "emails"))
    if data.fields:
        put("custom", await checked_values(session, Entity.COMPANY, data.fields, company.custom or {}))
    company.search_text = document(company)
    return diff


async def add_company(session: AsyncSession, viewer: Viewer, data: CompanyData, now: datetime) -> Company:
    if not (data.name or "").strip():
        raise Invalid("a company needs a name", "name")
    company = Company(name="", tax_id=None, addresses=[], phones=[], emails=[], custom={}, owner_id=viewer.user_id,
                      team_id=viewer.team_id, search_text="", created_at=now, updated_at=now, deleted_at=None)
    await _apply(session, company, data)
    session.add(company)
    await session.flush()
    return company


async def change_company(session: AsyncSession, viewer: Viewer, company_id: int, data: CompanyData,
                         now: datetime) -> tuple[Company, dict[str, Any]]:
    company = await seen_company(session, viewer, company_id)
    diff = await _apply(session, company, data)
    if diff:
        company.updated_at = now
        if "name" in diff:
            await _refresh_people(session, company_id)
    return company, diff


async def delete_company(session: AsyncSession, viewer: Viewer, company_id: int, now: datetime) -> Company:
    """Soft delete: leads keep naming it for the record; its people no longer list it."""
    company = await seen_company(session, viewer, company_id)
    company.deleted_at = company.updated_at = now
    await _refresh_people(session, company_id)
    return company


async def _refresh_people(session: AsyncSession, company_id: int) -> None:
    await session.flush()
    people = list(await session.scalars(select(ContactCompany.contact_id).where(ContactCompany.company_id == company_id)))
    leads = list(await session.scalars(select(Lead.id).where(Lead.company_id == company_id)))
    await session.run_sync(search.refresh, people, leads)


async def find(session: AsyncSession, viewer: Viewer, q: str | None, limit: int = LIST_LIMIT,
               offset: int = 0) -> list[Company]:
    """Companies the viewer sees whose name, tax id, phones, e-mails or addresses contain `q`."""
    query = select(Company).where(Company.deleted_at.is_(None), company_seen_by(viewer))
    wanted = search.Query.of(q or "")
    if wanted.text:
        needles = [search.like_pattern(wanted.text)]
        if wanted.digits and len(wanted.digits) >= 4:
            needles.append(search.like_pattern(wanted.digits))
        query = query.where(or_(*(Company.search_text.like(n, escape="\\") for n in needles)))
    return list(await session.scalars(query.order_by(Company.name, Company.id).limit(limit).offset(offset)))


@dataclass(frozen=True, slots=True)
class CompanyPage:
    company: Company
    contacts: list[tuple[Contact, str | None]]
    leads: list[Lead]


async def company_page(session: AsyncSession, viewer: Viewer, company_id: int) -> CompanyPage:
    company = await seen_company(session, viewer, company_id)
    contacts = [(c, p) for c, p in await session.execute(
        select(Contact, ContactCompany.position).join(ContactCompany, ContactCompany.contact_id == Contact.id)
        .where(ContactCompany.company_id == company_id, contact_seen_by(viewer, Contact.id))
        .order_by(Contact.display_name, Contact.id).limit(500))]
    leads = list(await session.scalars(select(Lead).where(
        Lead.deleted_at.is_(None), lead_seen_by(viewer),
        or_(Lead.company_id == company_id,
            and_(Lead.company_id.is_(None), Lead.contact_id.in_(
                select(ContactCompany.contact_id).where(ContactCompany.company_id == company_id)))))
        .order_by(Lead.created_at.desc(), Lead.id.desc()).limit(500)))
    return CompanyPage(company, contacts, leads)


async def link_contact(session: AsyncSession, viewer: Viewer, contact_id: int, company_id: int,
                       position: str | None, now: datetime) -> bool:
    """The contact belongs to the company (again: its position is updated); True if the link is new."""
    await seen_contact(session, viewer, contact_id)
    await seen_company(session, viewer, company_id)
    link = await session.get(ContactCompany, (contact_id, company_id))
    text = " ".join((position or "").split())[:200] or None
    if link is not None:
        link.position = text
        return False
    session.add(ContactCompany(contact_id=contact_id, company_id=company_id, position=text, created_at=now))
    await session.flush()
    await session.run_sync(search.refresh, (contact_id,))
    return True


async def unlink_contact(session: AsyncSession, viewer: Viewer, contact_id: int, company_id: int) -> None:
    await seen_contact(session, viewer, contact_id)
    gone = await session.execute(delete(ContactCompany).where(ContactCompany.contact_id == contact_id,
                                                              ContactCompany.company_id == company_id))
    if gone.rowcount != 1:  # type: ignore[attr-defined]
        raise NotFound(f"client {contact_id} is not in company {company_id}")
    await session.flush()
    await session.run_sync(search.refresh, (contact_id,))


async def set_lead_company(session: AsyncSession, viewer: Viewer, lead_id: int, company_id: int | None,
                           perms: Permissions, now: datetime) -> dict[str, Any]:
    lead = await get_visible(session, viewer, lead_id)
    if not is_own(viewer, lead) and viewer.role not in perms.edit_others:
        raise Forbidden(f"your role may not edit lead {lead_id}, which is not yours")
    if company_id is not None:
        await seen_company(session, viewer, company_id)
    if lead.company_id == company_id:
        return {}
    diff = {"company_id": [lead.company_id, company_id]}
    lead.company_id, lead.updated_at = company_id, now
    await session.flush()
    await session.run_sync(search.refresh, (), (lead_id,))
    return diff


async def owners(session: AsyncSession, ids: set[int | None]) -> dict[int, User]:
    wanted = {i for i in ids if i is not None}
    return {u.id: u for u in await session.scalars(select(User).where(User.id.in_(wanted)))} if wanted else {}
