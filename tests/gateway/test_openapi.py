"""GET /api/v1/openapi.json: a valid OpenAPI 3.1 document that matches the application's real routes."""
from __future__ import annotations

from openapi_spec_validator import validate

from crm_store.types import Role
from gateway.api.lead_routes import LeadPatch
from gateway.openapi import OPERATIONS

METHODS = {"GET", "POST", "PATCH", "PUT", "DELETE"}


async def test_the_document_is_valid_openapi_and_served_without_signing_in(api):
    response = await api.client.get("/api/v1/openapi.json")
    assert response.status == 200
    document = await response.json()
    validate(document)          # raises on anything the 3.1 schema refuses
    assert document["openapi"].startswith("3.1")


async def test_every_api_route_is_documented_and_every_documented_one_exists(api):
    document = await (await api.client.get("/api/v1/openapi.json")).json()
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    served = {(route.method, route.resource.canonical) for route in api.client.app.router.routes()
              if route.resource is not None and route.resource.canonical.startswith("/api/v1")
              and route.method in METHODS}
    assert served - documented == set(), "routes with no line in gateway/openapi.py OPERATIONS"
    assert documented - served == set(), "documented operations the application does not serve"
    assert len(OPERATIONS) == len(documented)       # no operation listed twice


async def test_request_bodies_and_parameters_of_the_main_endpoints_are_described(api):
    document = await (await api.client.get("/api/v1/openapi.json")).json()
    paths, schemas = document["paths"], document["components"]["schemas"]
    login = paths["/api/v1/auth/login"]["post"]
    assert login["security"] == []
    assert set(schemas["Login"]["required"]) == {"username", "password"}
    patch = paths["/api/v1/leads/{lead_id}"]["patch"]
    assert patch["requestBody"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/LeadPatch"
    assert set(schemas["LeadPatch"]["properties"]) == set(LeadPatch.model_fields)
    assert {p["name"]: p["in"] for p in patch["parameters"]} == {"lead_id": "path"}
    listing = {p["name"] for p in paths["/api/v1/leads"]["get"]["parameters"]}
    assert {"status", "channel", "assignee", "q", "limit", "offset"} <= listing
    assert set(schemas["UserIn"]["required"]) >= {"username", "password", "role"}
    assert "403" in paths["/api/v1/users"]["post"]["responses"]
    # What the document says about a body is what the endpoint enforces: an unknown field is refused.
    await api.add_user("olga", Role.MANAGER)
    headers = await api.login("olga")
    refused = await api.client.post("/api/v1/leads", json={"nickname": "x"}, headers=headers)
    assert refused.status == 422 and schemas["NewLead"]["additionalProperties"] is False
