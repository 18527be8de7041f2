"""The web-form channel's guards over real HTTP: honeypot, rate limit, proxies, CORS, HMAC."""
from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestClient

from channels.webform import FormConfig, sign
from support.clocks import ManualClock
from webform_fakes import PHONE, SHOP, MakeClient, RecordingEmit, error_of

NOW = 1_750_000_000.0


async def test_honeypot_answers_like_success_and_stores_nothing(make_client: MakeClient,
                                                                emit: RecordingEmit) -> None:
    client = await make_client(emit=emit)
    response = await client.post("/forms/default", data={"phone": PHONE, "website": "http://spam.example"})
    assert response.status == 201
    body = await response.json()
    assert set(body) == {"lead_id", "duplicate"} and isinstance(body["lead_id"], int)
    assert emit.contacts == []


async def test_rate_limit_after_burst(make_client: MakeClient, emit: RecordingEmit) -> None:
    client = await make_client(FormConfig(key="slow", burst=3, rate_per_minute=2), emit=emit, clock=ManualClock(NOW))
    statuses = [(await client.post("/forms/slow", json={"phone": PHONE})).status for _ in range(3)]
    assert statuses == [201, 201, 201]
    response = await client.post("/forms/slow", json={"phone": PHONE})
    assert response.status == 429
    assert response.headers["Retry-After"] == "30"
    assert (await error_of(response))["code"] == "rate_limited"
    assert len(emit.contacts) == 3


async def test_default_burst_is_five(make_client: MakeClient) -> None:
    client = await make_client(clock=ManualClock(NOW))
    statuses = [(await client.post("/forms/default", json={"phone": PHONE})).status for _ in range(6)]
    assert statuses == [201] * 5 + [429]


async def test_forwarded_for_counts_only_from_trusted_proxies(make_client: MakeClient,
                                                              emit: RecordingEmit) -> None:
    trusting = await make_client(emit=emit, trusted_proxies=("127.0.0.0/8",), clock=ManualClock(NOW))
    headers = {"X-Forwarded-For": "10.9.9.9, 198.51.100.7"}
    assert (await trusting.post("/forms/default", json={"phone": PHONE}, headers=headers)).status == 201
    assert emit.contacts[-1].attributes["client_ip"] == "198.51.100.7"
    # Each forwarded client has its own bucket.
    for i in range(7):
        response = await trusting.post("/forms/default", json={"phone": PHONE},
                                       headers={"X-Forwarded-For": f"198.51.100.{20 + i}"})
        assert response.status == 201

    naive = await make_client(emit=emit)
    assert (await naive.post("/forms/default", json={"phone": PHONE}, headers=headers)).status == 201
    assert emit.contacts[-1].attributes["client_ip"] == "127.0.0.1"


# -- CORS -----------------------------------------------------------------------------------



async def test_preflight_for_an_allowed_origin(make_client: MakeClient) -> None:
    client = await make_client(FormConfig(key="shop", allowed_origins=(SHOP,)))
    response = await client.options("/forms/shop", headers={
        "Origin": SHOP, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, idempotency-key"})
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed >= {"content-type", "idempotency-key", "x-switchboard-timestamp", "x-switchboard-signature"}


async def test_disallowed_origin_is_refused(make_client: MakeClient, emit: RecordingEmit) -> None:
    client = await make_client(FormConfig(key="shop", allowed_origins=(SHOP,)), emit=emit)
    preflight = await client.options("/forms/shop", headers={"Origin": "https://evil.example",
                                                             "Access-Control-Request-Method": "POST"})
    assert preflight.status == 403
    assert "Access-Control-Allow-Origin" not in preflight.headers
    response = await client.post("/forms/shop", json={"phone": PHONE}, headers={"Origin": "https://evil.example"})
    assert response.status == 403
    assert (await error_of(response))["code"] == "origin_not_allowed"
    assert emit.contacts == []


async def test_post_responses_carry_cors_headers(make_client: MakeClient) -> None:
    client = await make_client(FormConfig(key="shop", allowed_origins=(SHOP,)))
    ok = await client.post("/forms/shop", json={"phone": PHONE}, headers={"Origin": SHOP})
    assert ok.status == 201 and ok.headers["Access-Control-Allow-Origin"] == SHOP
    bad = await client.post("/forms/shop", json={"phone": "1"}, headers={"Origin": SHOP})
    assert bad.status == 422 and bad.headers["Access-Control-Allow-Origin"] == SHOP
    anyone = await client.post("/forms/default", json={"phone": PHONE}, headers={"Origin": "https://any.example"})
    assert anyone.headers["Access-Control-Allow-Origin"] == "*"


async def test_own_origin_may_post_for_the_iframe_embed(make_client: MakeClient) -> None:
    client = await make_client(FormConfig(key="shop", allowed_origins=(SHOP,)))
    own = f"http://{client.host}:{client.port}"
    response = await client.post("/forms/shop", json={"phone": PHONE}, headers={"Origin": own})
    assert response.status == 201


# -- HMAC -----------------------------------------------------------------------------------

SECRET = "hunter2-but-longer"


def signed(body: bytes, timestamp: int, secret: str = SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Switchboard-Timestamp": str(timestamp),
            "X-Switchboard-Signature": sign(secret, timestamp, body)}


@pytest.fixture
async def signed_client(make_client: MakeClient, emit: RecordingEmit) -> TestClient:
    return await make_client(FormConfig(key="crm", hmac_secret=SECRET, require_signature=True),
                             emit=emit, clock=ManualClock(NOW))


async def test_hmac_valid(signed_client: TestClient, emit: RecordingEmit) -> None:
    body = json.dumps({"phone": PHONE}).encode()
    response = await signed_client.post("/forms/crm", data=body, headers=signed(body, 1_750_000_000 - 60))
    assert response.status == 201
    assert len(emit.contacts) == 1


@pytest.mark.parametrize(("headers", "code"), [
    (lambda body: signed(body, 1_750_000_000, secret="wrong"), "bad_signature"),
    (lambda body: signed(body + b" ", 1_750_000_000), "bad_signature"),
    (lambda body: signed(body, 1_750_000_000 - 301), "stale_signature"),
    (lambda body: {"Content-Type": "application/json"}, "signature_required"),
])
async def test_hmac_refusals(signed_client: TestClient, emit: RecordingEmit, headers, code: str) -> None:
    body = json.dumps({"phone": PHONE}).encode()
    response = await signed_client.post("/forms/crm", data=body, headers=headers(body))
    assert response.status == 401
    assert (await error_of(response))["code"] == code
    assert emit.contacts == []


