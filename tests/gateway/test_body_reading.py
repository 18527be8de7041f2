"""Bodies are read whole up to the limit, then 413: sent in parts, chunked, or lying about their length."""
from __future__ import annotations

import asyncio
import json

import pytest

from crm_store.types import Role


async def _raw_request(port: int, head: str, parts: list[bytes]) -> int:
    """Send `head` then each part with a pause between (separate TCP segments); the answer's status."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode())
        for part in parts:
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(0.05)
        status_line = await asyncio.wait_for(reader.readline(), 30)
        return int(status_line.split()[1])
    finally:
        writer.close()


def _chunked(*pieces: bytes) -> list[bytes]:
    return [b"%x\r\n%s\r\n" % (len(p), p) for p in pieces] + [b"0\r\n\r\n"]


@pytest.fixture
async def signed_in(api):  # type: ignore[no-untyped-def]
    await api.add_user("boss", Role.ADMIN)
    return (await api.login("boss"))["Authorization"]


async def test_a_valid_body_sent_in_two_parts_is_read_whole(api, signed_in):
    body = json.dumps({"name": "Анна", "text": "ж" * 15_000}).encode()      # 90 KB: "\u0436" is 6 bytes
    assert len(body) > 90_000
    head = (f"POST /api/v1/leads HTTP/1.1\r\nHost: t\r\nAuthorization: {signed_in}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    assert await _raw_request(api.client.port, head, [body[:1000], body[1000:]]) == 201


async def test_chunked_bodies_are_read_whole_and_bounded(api, signed_in):
    head = (f"POST /api/v1/leads HTTP/1.1\r\nHost: t\r\nAuthorization: {signed_in}\r\n"
            f"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    valid = json.dumps({"name": "Анна"}).encode()
    port = api.client.port
    assert await _raw_request(port, head, _chunked(valid[:5], valid[5:])) == 201
    assert await _raw_request(port, head, _chunked(valid, b"garbage" * 100)) == 400
    assert await _raw_request(port, head, _chunked(valid, b"g" * 300_000)) == 413
    assert await _raw_request(port, head, _chunked(*[b" " * 65536] * 40)) == 413   # 2.5 MB, no length


@pytest.mark.parametrize("path", ["/forms/default", "/api/v1/auth/login"])
async def test_a_declared_length_over_the_limit_is_413_before_reading(api, path):
    head = (f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            f"Content-Length: {100 * 1024 * 1024}\r\nConnection: close\r\n\r\n")
    assert await _raw_request(api.client.port, head, [b"{}"]) == 413
