"""/api/v1/companies: the organisations clients belong to; search, card, changes; a lead's company."""
from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from channels.identity import InvalidIdentity, normalize_email, normalize_phone
from crm_store import companies
from crm_store.companies import CompanyData
from gateway.api.audited import audited
from gateway.api.client_json import company_json, company_page_json
from gateway.api.params import DbId, path_id, query_int
from gateway.auth import principal
from gateway.errors import read_model, refuse
from gateway.keys import CLOCK, PERMISSIONS, SETTINGS

routes = web.RouteTableDef()


class CompanyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=300)
    tax_id: str | None = Field(None, max_length=40)
    addresses: list[str] | None = Field(None, max_length=20)
    phones: list[str] | None = Field(None, max_length=20)
    emails: list[str] | None = Field(None, max_length=20)
    fields: dict[str, Any] | None = None


class LeadCompany(BaseModel):
    model_config = ConfigDict(extra="forbid")

    company_id: DbId | None


def _data(request: web.Request, body: CompanyIn) -> CompanyData:
    """The body with its phones in E.164 and its e-mails in one spelling; 422 naming `phones.N` / `emails.N`."""
    region = request.app[SETTINGS].phone.region
    phones = emails = None
    try:
        if body.phones is not None:
            phones = tuple(normalize_phone(p, region) for p in body.phones if p.strip())
    except InvalidIdentity as exc:
        refuse(422, "invalid", f"phones: {exc}", "phones")
    try:
        if body.emails is not None:
            emails = tuple(normalize_email(e) for e in body.emails if e.strip())
    except InvalidIdentity as exc:
        refuse(422, "invalid", f"emails: {exc}", "emails")
    return CompanyData(name=body.name, tax_id=body.tax_id,
                       addresses=tuple(body.addresses) if body.addresses is not None else None,
                       phones=phones, emails=emails, fields=body.fields)


def _company_id(request: web.Request) -> int:
    return path_id(request, "company_id", "company")


@routes.get("/api/v1/companies")
async def find_companies(request: web.Request) -> web.Response:
    who = principal(request)
    q = request.query.get("q", "").strip()[:200] or None
    limit, offset = query_int(request, "limit", 50, 1, 200), query_int(request, "offset", 0, 0, 1_000_000)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        found = await companies.find(session, who.viewer, q, limit, offset)
        people = await companies.owners(session, {c.owner_id for c in found})
        return [company_json(c, people) for c in found], {"q": q, "company_ids": [c.id for c in found]}

    items = await audited(request, "companies.list", work)
    return web.json_response({"items": items, "limit": limit, "offset": offset})


@routes.post("/api/v1/companies")
async def add_company(request: web.Request) -> web.Response:
    who = principal(request)
    data = _data(request, await read_model(request, CompanyIn))

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        company = await companies.add_company(session, who.viewer, data, request.app[CLOCK]())
        return company_json(company), {"company_id": company.id, "name": company.name}

    return web.json_response(await audited(request, "company.create", work), status=201)


@routes.get("/api/v1/companies/{company_id}")
async def get_company(request: web.Request) -> web.Response:
    company_id, who = _company_id(request), principal(request)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        page = await companies.company_page(session, who.viewer, company_id)
        people = await companies.owners(session, {page.company.owner_id} | {x.owner_id for x in page.leads}
                                        | {x.assignee_id for x in page.leads})
        return company_page_json(page, people), {"company_id": company_id}

    return web.json_response(await audited(request, "company.read", work))


@routes.patch("/api/v1/companies/{company_id}")
async def patch_company(request: web.Request) -> web.Response:
    company_id, who = _company_id(request), principal(request)
    data = _data(request, await read_model(request, CompanyIn))

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        company, diff = await companies.change_company(session, who.viewer, company_id, data, request.app[CLOCK]())
        return company_json(company), {"company_id": company_id, "changes": diff}

    return web.json_response(await audited(request, "company.update", work))


@routes.delete("/api/v1/companies/{company_id}")
async def delete_company(request: web.Request) -> web.Response:
    company_id, who = _company_id(request), principal(request)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        await companies.delete_company(session, who.viewer, company_id, request.app[CLOCK]())
        return None, {"company_id": company_id}

    await audited(request, "company.delete", work)
    return web.Response(status=204)


@routes.put("/api/v1/leads/{lead_id}/company")
async def set_lead_company(request: web.Request) -> web.Response:
    lead_id, who = path_id(request, "lead_id", "lead"), principal(request)
    body = await read_model(request, LeadCompany)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        diff = await companies.set_lead_company(session, who.viewer, lead_id, body.company_id,
                                                request.app[PERMISSIONS], request.app[CLOCK]())
        return None, {"changes": diff}

    await audited(request, "lead.update", work, lead_id=lead_id)
    return web.json_response({"lead_id": lead_id, "company_id": body.company_id})
