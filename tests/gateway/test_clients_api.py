"""The client's page through the real server: identities, companies, custom fields, the timeline, recordings.

Another team's manager finds nothing (404, and nothing of the client in any answer); every change is
audited; a recording is streamed with ranges from the configured folder only.
"""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from crm_store import leads
from crm_store.ingest import utcnow
from crm_store.types import Claim, IngestRequest, IngestResult, Role
from gateway.keys import INGESTOR, SESSIONS
from support.gateway_app import Api

RECORDING = bytes(range(256)) * 40          # 10240 bytes: any content; ranges are checked byte for byte


@pytest.fixture
def recordings(tmp_path: Path) -> Path:
    folder = tmp_path / "recordings"
    folder.mkdir()
    (folder / "call-1.wav").write_bytes(RECORDING)
    (tmp_path / "secret.wav").write_bytes(b"not yours")       # beside the folder: never served
    (folder / "link.wav").symlink_to(tmp_path / "secret.wav")
    return folder


@pytest.fixture
def settings_overrides(recordings: Path) -> dict[str, Any]:
    return {"voice": {"recordings_dir": str(recordings)},
            "leads": {"fields": {"city": {"label": "City", "label_ru": "Город", "required": True}}}}


async def _ingest(api: Api, *claims: tuple[str, str], channel: str = "form", text: str = "hello",
                  attributes: dict[str, Any] | None = None) -> IngestResult:
    request = IngestRequest(channel=channel, event_id=uuid.uuid4().hex, received_at=utcnow(), text=text,
                            claims=tuple(Claim(kind, value, True, "stated") for kind, value in claims),
                            primary_kind=claims[0][0] if claims else None, attributes=attributes or {})
    return await api.client.app[INGESTOR].ingest(request)


async def _assign(api: Api, lead_id: int, user_id: int) -> None:
    async with api.client.app[SESSIONS]() as session, session.begin():
        await leads.assign(session, lead_id, user_id, utcnow())


async def _call(api: Api, phone: str, user_id: int, recording: str | None) -> IngestResult:
    attributes = {"call_id": uuid.uuid4().hex, "direction": "inbound", "status": "ended", "outcome": "answered",
                  "caller_name": "Анна", "answered_by": user_id, "wait_seconds": 4.5, "talk_seconds": 61.0,
                  "recording": recording}
    return await _ingest(api, ("phone", phone), channel="voice", text="Incoming call", attributes=attributes)


async def _audit(api: Api, boss: dict[str, str]) -> list[dict[str, Any]]:
    return (await (await api.client.get("/api/v1/audit", headers=boss)).json())["items"]


async def test_client_page_identities_and_scoping(api: Api) -> None:
    sam = await api.add_user("sam", Role.MANAGER, team="sales", display_name="Sam Seller")
    await api.add_user("sue", Role.MANAGER, team="support")
    await api.add_user("boss", Role.SUPERVISOR)
    first = await _ingest(api, ("phone", "+79161112233"), text="need a quote")
    await _assign(api, first.lead_id, sam)
    call = await _call(api, "+79161112233", sam, "/var/spool/asterisk/monitor/call-1.wav")
    other = await _ingest(api, ("phone", "+79164445566"), text="support case")
    as_sam, as_sue, as_boss = await api.login("sam"), await api.login("sue"), await api.login("boss")
    contact = first.contact_id
    url = f"/api/v1/contacts/{contact}"

    page = await (await api.client.get(url, headers=as_sam)).json()
    assert page["owner"]["display_name"] == "Sam Seller"
    assert [i["value"] for i in page["identities"]] == ["+79161112233"]
    assert [x["id"] for x in page["leads"]] == [first.lead_id] and page["leads"][0]["status"] == "assigned"
    [voice, form] = page["timeline"]["items"]
    assert form["text"] == "need a quote" and voice["id"] == call.interaction_id
    assert voice["call"] == {"direction": "inbound", "rang": {"kind": "client", "name": "Анна"},
                             "answered": {"kind": "user", "id": sam, "name": "Sam Seller"}, "wait_seconds": 4.5,
                             "talk_seconds": 61.0, "outcome": "answered", "status": "ended",
                             "recording_url": f"/api/v1/calls/{call.interaction_id}/recording"}

    newest = await (await api.client.get(f"{url}/timeline?limit=1", headers=as_sam)).json()
    older = await (await api.client.get(f"{url}/timeline?limit=1&offset=1", headers=as_sam)).json()
    assert [i["id"] for i in newest["items"] + older["items"]] == [voice["id"], form["id"]]
    assert newest["more"] and not older["more"]

    # Another team's manager: nothing, and no trace of the client in the answers.
    for method, path, body in (("GET", url, None), ("GET", f"{url}/timeline", None),
                               ("PATCH", url, {"tags": ["vip"]}),
                               ("POST", f"{url}/identities", {"kind": "email", "value": "x@example.com"})):
        refused = await api.client.request(method, path, json=body, headers=as_sue)
        assert refused.status == 404, (method, path)
        assert "+79161112233" not in await refused.text()
    refused = await api.client.get(f"/api/v1/calls/{call.interaction_id}/recording", headers=as_sue)
    assert refused.status in (403, 404) and RECORDING[:32] not in await refused.read()

    # Identities: normalised, a duplicate is a 409 naming whose it is (or that it is someone else's), audited.
    added = await api.client.post(f"{url}/identities", json={"kind": "phone", "value": "8 (916) 777-88-99"},
                                  headers=as_sam)
    assert added.status == 201 and (await added.json())["value"] == "+79167778899"
    phone_id = (await added.json())["id"]
    bad = await api.client.post(f"{url}/identities", json={"kind": "phone", "value": "12"}, headers=as_sam)
    assert bad.status == 422 and (await bad.json())["error"]["field"] == "value"
    taken = await api.client.post(f"{url}/identities", json={"kind": "phone", "value": "+79164445566"},
                                  headers=as_sam)
    assert taken.status == 409 and str(other.contact_id) not in (await taken.json())["error"]["message"]
    taken = await api.client.post(f"{url}/identities", json={"kind": "phone", "value": "+79164445566"},
                                  headers=as_boss)
    assert taken.status == 409 and f"client {other.contact_id}" in (await taken.json())["error"]["message"]
    changed = await api.client.patch(f"{url}/identities/{phone_id}", json={"value": "+7 916 777 88 00"},
                                     headers=as_sam)
    assert (await changed.json())["value"] == "+79167778800"
    tg = await api.client.post(f"{url}/identities", json={"kind": "telegram", "value": "anna_k"}, headers=as_sam)
    assert tg.status == 201
    assert (await api.client.delete(f"{url}/identities/{phone_id}", headers=as_sam)).status == 204
    page = await (await api.client.get(url, headers=as_sam)).json()
    assert {(i["kind"], i["value"]) for i in page["identities"]} == {("phone", "+79161112233"), ("telegram", "anna_k")}
    found = await (await api.client.get("/api/v1/leads?q=anna_k", headers=as_sam)).json()
    assert [x["id"] for x in found["items"]] == [first.lead_id]

    entries = [e for e in await _audit(api, as_boss) if e["contact_id"] == contact]
    kinds = [(e["action"], e["outcome"], e["user_id"]) for e in entries]
    assert ("contact.identity.change", "ok", sam) in kinds and ("contact.identity.remove", "ok", sam) in kinds
    assert ("contact.read", "denied", await _user_id(api, as_sue)) in kinds
    change = next(e for e in entries if e["action"] == "contact.identity.change")
    assert change["detail"]["value"] == ["+79167778899", "+79167778800"]


async def _user_id(api: Api, headers: dict[str, str]) -> int:
    return int((await (await api.client.get("/api/v1/me", headers=headers)).json())["id"])


async def test_recording_is_streamed_with_ranges_from_the_folder_only(api: Api) -> None:
    sam = await api.add_user("sam", Role.MANAGER, team="sales")
    await api.add_user("boss", Role.SUPERVISOR)
    as_sam, as_boss = await api.login("sam"), await api.login("boss")
    lead = await _ingest(api, ("phone", "+79161112233"))
    await _assign(api, lead.lead_id, sam)
    good = await _call(api, "+79161112233", sam, "/var/spool/asterisk/monitor/call-1.wav")
    escaping = await _call(api, "+79161112233", sam, "../secret.wav")
    linked = await _call(api, "+79161112233", sam, "link.wav")
    absent = await _call(api, "+79161112233", sam, "C:\\rec\\gone.wav")
    url = "/api/v1/calls/{}/recording"

    whole = await api.client.get(url.format(good.interaction_id), headers=as_sam)
    assert whole.status == 200 and await whole.read() == RECORDING
    assert whole.headers["Content-Type"] == "audio/wav"
    part = await api.client.get(url.format(good.interaction_id), headers={**as_sam, "Range": "bytes=1000-1999"})
    assert part.status == 206 and await part.read() == RECORDING[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(RECORDING)}"
    for call in (escaping, linked, absent):
        refused = await api.client.get(url.format(call.interaction_id), headers=as_sam)
        assert refused.status == 404 and b"not yours" not in await refused.read()
    assert (await api.client.get(url.format(lead.interaction_id), headers=as_sam)).status == 404   # not a call
    served = [e for e in await _audit(api, as_boss) if e["action"] == "call.recording" and e["user_id"] == sam]
    assert {e["detail"]["call_id"] for e in served if e["detail"].get("found")} == {good.interaction_id}
    assert {e["lead_id"] for e in served if e["outcome"] == "ok"} == {lead.lead_id}
    assert [e["outcome"] for e in served].count("denied") == 1       # the interaction that is no call


async def test_custom_fields_are_defined_by_admins_and_validated_per_type(api: Api) -> None:
    await api.add_user("root", Role.ADMIN)
    sam = await api.add_user("sam", Role.MANAGER, team="sales")
    as_root, as_sam = await api.login("root"), await api.login("sam")
    lead = await _ingest(api, ("phone", "+79161112233"))
    await _assign(api, lead.lead_id, sam)

    # The `[leads.fields]` setting seeded a definition; its rule still holds.
    config = await (await api.client.get("/api/v1/config", headers=as_sam)).json()
    assert config["lead_fields"]["city"]["label_ru"] == "Город" and config["lead_fields"]["city"]["kind"] == "text"
    refused = await api.client.post("/api/v1/directories", json={"name": "cities", "label": "Cities"},
                                    headers=as_sam)
    assert refused.status == 403
    cities = await (await api.client.post("/api/v1/directories", json={
        "name": "cities", "label": "Cities", "label_ru": "Города", "values": ["Москва", "Казань"]},
        headers=as_root)).json()
    moscow = cities["values"][0]["id"]
    definitions = {
        "budget": {"kind": "money", "currency": "RUB"}, "employees": {"kind": "number"}, "since": {"kind": "date"},
        "size": {"kind": "choice", "choices": ["small", "big"]},
        "needs": {"kind": "multi_choice", "choices": ["crm", "phones", "chat"]},
        "town": {"kind": "directory", "directory_id": cities["id"]}}
    for name, spec in definitions.items():
        made = await api.client.post("/api/v1/fields", json={"entity": "contact", "name": name, "label": name, **spec},
                                     headers=as_root)
        assert made.status == 201, await made.text()
    bad_def = await api.client.post("/api/v1/fields", json={"entity": "contact", "name": "x", "label": "x",
                                                           "kind": "choice"}, headers=as_root)
    assert bad_def.status == 422 and (await bad_def.json())["error"]["field"] == "choices"

    url = f"/api/v1/contacts/{lead.contact_id}"
    for name, value in (("budget", "12.345"), ("budget", "lots"), ("employees", "many"), ("employees", True),
                        ("since", "31.12.2026"), ("size", "huge"), ("needs", ["crm", "fax"]), ("needs", "crm"),
                        ("town", "масква"), ("nope", "x")):
        refused = await api.client.patch(url, json={"fields": {name: value}}, headers=as_sam)
        assert refused.status == 422, (name, value)
        assert (await refused.json())["error"]["field"] == f"fields.{name}"
    saved = await api.client.patch(url, json={"tags": [" vip ", "wholesale", "vip"], "fields": {
        "budget": "1500.5", "employees": "40", "since": "2026-12-01", "size": "big", "needs": ["chat", "crm"],
        "town": "Москва"}}, headers=as_sam)
    assert saved.status == 200, await saved.text()
    body = await saved.json()
    assert body["tags"] == ["vip", "wholesale"]
    assert body["fields"] == {"budget": {"amount": "1500.50", "currency": "RUB"}, "employees": 40,
                              "since": "2026-12-01", "size": "big", "needs": ["crm", "chat"], "town": moscow}
    # A renamed directory value mends every record that names it; a blank value removes the field.
    renamed = await api.client.patch(f"/api/v1/directories/{cities['id']}/values/{moscow}",
                                     json={"value": "Москва (центр)"}, headers=as_root)
    assert renamed.status == 200
    cleared = await (await api.client.patch(url, json={"fields": {"size": ""}}, headers=as_sam)).json()
    assert "size" not in cleared["fields"] and cleared["fields"]["town"] == moscow

    # Lead fields: the seeded rule (city before closing) and typed values on the lead.
    await api.client.post("/api/v1/fields", json={"entity": "lead", "name": "amount", "label": "Amount",
                                                  "kind": "number"}, headers=as_root)
    lead_url = f"/api/v1/leads/{lead.lead_id}"
    blocked = await api.client.patch(lead_url, json={"status": "won", "fields": {"amount": 7}}, headers=as_sam)
    assert blocked.status == 422 and (await blocked.json())["error"]["field"] == "city"
    done = await api.client.patch(lead_url, json={"status": "won", "fields": {"amount": 7, "city": "Казань"}},
                                  headers=as_sam)
    assert done.status == 200 and (await done.json())["attributes"]["fields"] == {"amount": 7, "city": "Казань"}


async def test_companies_search_membership_and_scoping(api: Api) -> None:
    sam = await api.add_user("sam", Role.MANAGER, team="sales")
    await api.add_user("sue", Role.MANAGER, team="support")
    as_sam, as_sue = await api.login("sam"), await api.login("sue")
    lead = await _ingest(api, ("phone", "+79161112233"))
    await _assign(api, lead.lead_id, sam)
    made = await api.client.post("/api/v1/companies", json={
        "name": "ООО «Ромашка»", "tax_id": "7701234567", "phones": ["8 495 123-45-67"],
        "emails": ["Office@Romashka.example"], "addresses": ["Москва, Тверская 1"]}, headers=as_sam)
    assert made.status == 201, await made.text()
    company = await made.json()
    assert company["phones"] == ["+74951234567"] and company["emails"] == ["office@romashka.example"]
    bad = await api.client.post("/api/v1/companies", json={"name": "X", "phones": ["nope"]}, headers=as_sam)
    assert bad.status == 422 and (await bad.json())["error"]["field"] == "phones"

    joined = await api.client.put(f"/api/v1/contacts/{lead.contact_id}/companies/{company['id']}",
                                  json={"position": "buyer"}, headers=as_sam)
    assert joined.status == 201
    assert (await api.client.put(f"/api/v1/leads/{lead.lead_id}/company", json={"company_id": company["id"]},
                                 headers=as_sam)).status == 200
    for q in ("ромашка", "7701234567", "4951234567"):
        found = await (await api.client.get(f"/api/v1/companies?q={q}", headers=as_sam)).json()
        assert [c["id"] for c in found["items"]] == [company["id"]], q
    by_lead = await (await api.client.get("/api/v1/leads?q=ромашка", headers=as_sam)).json()
    assert [x["id"] for x in by_lead["items"]] == [lead.lead_id]
    card = await (await api.client.get(f"/api/v1/companies/{company['id']}", headers=as_sam)).json()
    assert [c["id"] for c in card["contacts"]] == [lead.contact_id] and card["contacts"][0]["position"] == "buyer"
    assert [x["id"] for x in card["leads"]] == [lead.lead_id]
    page = await (await api.client.get(f"/api/v1/contacts/{lead.contact_id}", headers=as_sam)).json()
    assert page["companies"] == [{"id": company["id"], "name": "ООО «Ромашка»", "tax_id": "7701234567",
                                  "position": "buyer"}]

    # The other team neither finds nor opens it.
    assert (await (await api.client.get("/api/v1/companies?q=ромашка", headers=as_sue)).json())["items"] == []
    assert (await api.client.get(f"/api/v1/companies/{company['id']}", headers=as_sue)).status == 404
    assert (await api.client.patch(f"/api/v1/companies/{company['id']}", json={"name": "Mine"},
                                   headers=as_sue)).status == 404

    renamed = await api.client.patch(f"/api/v1/companies/{company['id']}", json={"name": "Лютик"}, headers=as_sam)
    assert renamed.status == 200
    assert [x["id"] for x in (await (await api.client.get("/api/v1/leads?q=лютик", headers=as_sam)).json())["items"]] \
        == [lead.lead_id]
    assert (await api.client.delete(f"/api/v1/contacts/{lead.contact_id}/companies/{company['id']}",
                                    headers=as_sam)).status == 204
    page = await (await api.client.get(f"/api/v1/contacts/{lead.contact_id}", headers=as_sam)).json()
    assert page["companies"] == []


async def test_the_client_page_is_for_signed_in_users(api: Api) -> None:
    stranger = await api.client.get("/clients/5", allow_redirects=False)
    assert stranger.status == 303 and stranger.headers["Location"] == "/login?next=/clients/5"
    await api.add_user("sam", Role.MANAGER)
    await api.login("sam")          # the session cookie stays in the client's jar
    page = await api.client.get("/clients/5", allow_redirects=False)
    assert page.status == 200 and "/ui/js/client.js" in await page.text()
    assert (await api.client.get("/clients/x5", allow_redirects=False)).status == 404
