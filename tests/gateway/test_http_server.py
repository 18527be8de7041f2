"""The server as `serve` runs it: connections that never finish their request head are closed."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession, web

from gateway.app import create_app
from gateway.http_server import server_options
from support.gateway_app import make_settings


@pytest.fixture
async def port(database_url: str, tmp_path) -> AsyncIterator[int]:  # type: ignore[no-untyped-def]
    settings = make_settings(database_url, storage={"dir": str(tmp_path / "files")},
                             http={"header_timeout_seconds": 0.5})
    runner = web.AppRunner(create_app(settings), **server_options(settings.http))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    finally:
        await runner.cleanup()


async def _closed_by_server(reader: asyncio.StreamReader) -> bool:
    async with asyncio.timeout(30):
        return await reader.read(65536) == b""


async def test_half_open_connections_are_closed_and_the_server_stays_healthy(port: int) -> None:
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(200)]
    for index, (_, writer) in enumerate(connections):
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" if index % 2 else b"GE")
    trickle_reader, trickle = await asyncio.open_connection("127.0.0.1", port)
    trickle.write(b"GET /healthz HTTP/1.1\r\n")

    async def trickling() -> None:
        for _ in range(600):                    # a header line now and then, never the blank line
            trickle.write(b"X-Slow: 1\r\n")
            await asyncio.sleep(0.1)

    feeder = asyncio.create_task(trickling())
    try:
        assert all(await asyncio.gather(*(_closed_by_server(reader) for reader, _ in connections)))
        assert await _closed_by_server(trickle_reader)
    finally:
        feeder.cancel()
        for _, writer in [*connections, (trickle_reader, trickle)]:
            writer.close()
    async with ClientSession() as client, client.get(f"http://127.0.0.1:{port}/healthz") as response:
        assert response.status == 200
