"""The web-form channel over real HTTP: encodings, validation, limits, idempotency, embed."""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from channels.plug import BuildContext
from channels.types import Accepted, InboundContact
from channels.section import read_section
from channels.webform import FormConfig, Forms, build
from webform_fakes import PHONE, SHOP, MakeClient, RecordingEmit, UnavailableEmit, error_of

# -- the three encodings --------------------------------------------------------------------

async def test_urlencoded_post(make_client: MakeClient, emit: RecordingEmit) -> None:
    client = await make_client(emit=emit)
    response = await client.post("/forms/default", data={"fio": "Иван", "tel": "+7 (912) 345-67-89",
                                                         "comment": "Перезвоните", "utm_source": "yandex"},
                                 headers={"Referer": "https://shop.example/contacts"})
    assert response.status == 201
    assert await response.json() == {"lead_id": 100, "duplicate": False}
    [contact] = emit.contacts
    assert (contact.channel, contact.name, contact.phone, contact.text) == ("form", "Иван", PHONE, "Перезвоните")
    assert contact.event_id.startswith("default:")
    assert contact.attributes["utm_source"] == "yandex"
    assert contact.attributes["page"] == "https://shop.example/contacts"
    assert contact.attributes["client_ip"] == "127.0.0.1"


async def test_multipart_post(make_client: MakeClient, emit: RecordingEmit) -> None:
    client = await make_client(emit=emit)
    data = aiohttp.FormData()
    data.add_field("name", "Anna")
    data.add_field("phone", "8 912 345 67 89")
    data.add_field("text", "line 1\nline 2")
    response = await client.post("/forms/default", data=data)
    assert response.status == 201
    [contact] = emit.contacts
    assert (contact.name, contact.phone, contact.text) == ("Anna", PHONE, "line 1\nline 2")


async def test_multipart_file_is_refused(make_client: MakeClient, emit: RecordingEmit) -> None:
    client = await make_client(emit=emit)
    data = aiohttp.FormData()
    data.add_field("phone", PHONE)
    data.add_field("cv", b"%PDF-1.4", filename="cv.pdf", content_type="application/pdf")
    response = await client.post("/forms/default", data=data)
    assert response.status == 415
    assert (await error_of(response))["field"] == "cv"
    assert emit.contacts == []


async def test_json_post(make_client: MakeClient, emit: RecordingEmit) -> None:
    client = await make_client(emit=emit)
    response = await client.post("/forms/default", json={"name": "Bob", "phone": 79123456789,
                                                         "email": "Bob@Example.com", "utm_medium": "cpc",
                                                         "product": "sku-42"})
    assert response.status == 201
    [contact] = emit.contacts
    assert (contact.phone, contact.email) == (PHONE, "bob@example.com")
    assert contact.attributes["utm_medium"] == "cpc" and contact.attributes["product"] == "sku-42"


@pytest.mark.parametrize("raw", ["+7 (912) 345-67-89", "8 912 345 67 89", "79123456789"])
async def test_phone_formats(make_client: MakeClient, emit: RecordingEmit, raw: str) -> None:
    client = await make_client(emit=emit)
    assert (await client.post("/forms/default", json={"phone": raw})).status == 201
    assert emit.contacts[0].phone == PHONE


async def test_xss_ish_name_is_kept_as_text(make_client: MakeClient, emit: RecordingEmit) -> None:
    client = await make_client(emit=emit)
    response = await client.post("/forms/default", data={"name": "<img src=x onerror=alert(1)>", "phone": PHONE})
    assert response.status == 201
    assert emit.contacts[0].name == "<img src=x onerror=alert(1)>"


# -- refusals ---------------------------------------------------------------------------------

async def test_invalid_phone_names_the_field(make_client: MakeClient, emit: RecordingEmit) -> None:
    client = await make_client(emit=emit)
    response = await client.post("/forms/default", data={"phone": "12345"})
    assert response.status == 422
    assert (await error_of(response))["field"] == "phone"
    assert emit.contacts == []


async def test_neither_phone_nor_email(make_client: MakeClient, emit: RecordingEmit) -> None:
    client = await make_client(emit=emit)
    response = await client.post("/forms/default", json={"name": "Anna", "message": "hello"})
    assert response.status == 422
    error = await error_of(response)
    assert (error["code"], error["field"]) == ("required", "phone")
    assert "email" in error["message"]


async def test_unknown_form(make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.post("/forms/nope", json={"phone": PHONE})
    assert response.status == 404
    assert (await error_of(response))["code"] == "unknown_form"


@pytest.mark.parametrize("body", [b"{not json", b'["a list"]', b'"a string"'])
async def test_malformed_json(make_client: MakeClient, emit: RecordingEmit, body: bytes) -> None:
    client = await make_client(emit=emit)
    response = await client.post("/forms/default", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert (await error_of(response))["code"] == "malformed"
    assert emit.contacts == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
async def test_unsupported_content_type(make_client: MakeClient, content_type: str | None) -> None:
    client = await make_client()
    headers = {"Content-Type": content_type} if content_type else {"Content-Type": ""}
    response = await client.post("/forms/default", data=b"phone=%2B79123456789", headers=headers)
    assert response.status == 415


async def test_body_too_large_with_content_length(make_client: MakeClient, emit: RecordingEmit) -> None:
    client = await make_client(FormConfig(key="small", max_body_bytes=1024), emit=emit)
    response = await client.post("/forms/small", json={"phone": PHONE, "message": "x" * 2000})
    assert response.status == 413
    assert (await error_of(response))["code"] == "too_large"
    assert emit.contacts == []


async def test_body_too_large_chunked(make_client: MakeClient, emit: RecordingEmit) -> None:
    client = await make_client(FormConfig(key="small", max_body_bytes=1024), emit=emit)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"phone": "+79123456789", "message": "'
        for _ in range(8):
            yield b"x" * 256
        yield b'"}'

    response = await client.post("/forms/small", data=chunks(), headers={"Content-Type": "application/json"})
    assert response.request_info.headers.get("Transfer-Encoding") == "chunked"
    assert response.status == 413
    assert emit.contacts == []


async def test_chunked_body_within_the_limit_is_fine(make_client: MakeClient, emit: RecordingEmit) -> None:
    client = await make_client(emit=emit)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"phone": '
        yield b'"+79123456789"}'

    response = await client.post("/forms/default", data=chunks(), headers={"Content-Type": "application/json"})
    assert response.status == 201
    assert emit.contacts[0].phone == PHONE


# -- idempotency and the intake -------------------------------------------------------------

async def test_idempotency_key_header_makes_a_retry_the_same_event(make_client: MakeClient,
                                                                   emit: RecordingEmit) -> None:
    client = await make_client(emit=emit)
    headers = {"Idempotency-Key": "7f1c7a52-1b9e-4c55-9b0e-0b0f7c0e2a11"}
    first = await client.post("/forms/default", json={"phone": PHONE}, headers=headers)
    second = await client.post("/forms/default", json={"phone": PHONE}, headers=headers)
    assert (await first.json(), await second.json()) == ({"lead_id": 100, "duplicate": False},
                                                         {"lead_id": 100, "duplicate": True})
    assert {c.event_id for c in emit.contacts} == {"default:7f1c7a52-1b9e-4c55-9b0e-0b0f7c0e2a11"}


async def test_submission_id_field_makes_a_retry_the_same_event(make_client: MakeClient,
                                                                emit: RecordingEmit) -> None:
    client = await make_client(emit=emit)
    for _ in range(2):
        response = await client.post("/forms/default", data={"phone": PHONE, "submission_id": "abc-123"})
        assert response.status == 201
    assert [c.event_id for c in emit.contacts] == ["default:abc-123", "default:abc-123"]
    assert "submission_id" not in emit.contacts[0].attributes


async def test_without_an_id_every_post_is_new(make_client: MakeClient, emit: RecordingEmit) -> None:
    client = await make_client(emit=emit)
    for _ in range(2):
        await client.post("/forms/default", json={"phone": PHONE})
    assert len({c.event_id for c in emit.contacts}) == 2


async def test_bad_idempotency_key(make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.post("/forms/default", json={"phone": PHONE}, headers={"Idempotency-Key": "a b"})
    assert response.status == 400
    assert (await error_of(response))["field"] == "submission_id"


async def test_intake_unavailable_is_503_with_retry_after(make_client: MakeClient) -> None:
    unavailable = UnavailableEmit()
    client = await make_client(emit=unavailable)
    response = await client.post("/forms/default", json={"phone": PHONE})
    assert response.status == 503
    assert int(response.headers["Retry-After"]) > 0
    assert (await error_of(response))["code"] == "unavailable"
    assert unavailable.calls == 1


async def test_unexpected_emit_failure_is_500_json(make_client: MakeClient) -> None:
    async def broken(contact: InboundContact) -> Accepted:
        raise RuntimeError("bug")

    client = await make_client(emit=broken)
    response = await client.post("/forms/default", json={"phone": PHONE})
    assert response.status == 500
    assert (await error_of(response))["code"] == "internal"


# -- embed ----------------------------------------------------------------------------------

async def test_embed_page_and_script(make_client: MakeClient) -> None:
    client = await make_client(FormConfig(key="shop", title="Call me", allowed_origins=(SHOP,)))
    page = await client.get("/forms/shop/embed")
    assert page.status == 200 and page.content_type == "text/html"
    html = await page.text()
    assert '<script src="/forms/shop/embed.js" data-target="#switchboard-form" data-lang="en"></script>' in html
    assert "<title>Call me</title>" in html and '<html lang="en">' in html
    russian = await (await client.get("/forms/shop/embed?lang=ru")).text()
    assert '<html lang="ru">' in russian and 'data-lang="ru"' in russian and "<title>Call me</title>" in russian
    unknown = await client.get("/forms/shop/embed?lang=<x>")
    assert unknown.status == 400 and (await unknown.json())["error"]["field"] == "lang"
    assert f"frame-ancestors 'self' {SHOP}" in page.headers["Content-Security-Policy"]

    script = await client.get("/forms/shop/embed.js")
    assert script.status == 200 and script.content_type == "application/javascript"
    source = await script.text()
    assert '"key": "shop"' in source and '"title": "Call me"' in source
    assert "crypto.randomUUID" in source and "Idempotency-Key" in source
    assert "innerHTML" not in source and "hmac_secret" not in source


async def test_embed_escapes_the_title(make_client: MakeClient) -> None:
    client = await make_client(FormConfig(key="t", title="</script><script>alert(1)</script>"))
    source = await (await client.get("/forms/t/embed.js")).text()
    assert "<script>alert(1)" not in source and "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)" in source
    html = await (await client.get("/forms/t/embed")).text()
    assert "<script>alert(1)" not in html and "&lt;/script&gt;" in html


async def test_embed_of_an_unknown_form(make_client: MakeClient) -> None:
    client = await make_client()
    for path in ("/forms/nope/embed", "/forms/nope/embed.js"):
        response = await client.get(path)
        assert response.status == 404
        assert (await error_of(response))["code"] == "unknown_form"


async def test_build_from_settings_tables() -> None:
    emit = RecordingEmit()
    parts = build(read_section(Forms, {"landing": {"field_map": {"your-tel": "phone"}}}, "forms"),
                  BuildContext(emit=emit, region="RU", storage_dir=Path("unused")))
    app = web.Application()
    app.router.add_routes(parts.routes)
    async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
        assert (await client.post("/forms/landing", data={"your-tel": "89123456789"})).status == 201
        assert (await client.post("/forms/default", data={"tel": "89123456789"})).status == 201
    assert [c.attributes["form"] for c in emit.contacts] == ["landing", "default"]


async def test_refusals_are_logged_without_what_the_client_typed(make_client: MakeClient,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    client = await make_client()
    with caplog.at_level("INFO", logger="channels.webform"):
        await client.post("/forms/default", json={"phone": "12345", "name": "Secret Person"})
        await client.post("/forms/default", json={"phone": PHONE, "website": "x"})
    text = caplog.text
    assert "refused 422" in text and "invalid phone" in text and "honeypot" in text
    assert "Secret Person" not in text and "12345" not in text
