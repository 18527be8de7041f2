"""A running gateway on 127.0.0.1 over a fresh database, and signed-in clients."""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app
from support.bounded import within
from support.gateway_app import Api, make_settings


@pytest.fixture
def settings_overrides() -> dict[str, dict[str, Any]]:
    """Tests override sections by redefining this fixture."""
    return {}


@pytest.fixture
async def api(database_url: str, settings_overrides: dict[str, dict[str, Any]], tmp_path) -> AsyncIterator[Api]:  # type: ignore[no-untyped-def]
    sections = {"storage": {"dir": str(tmp_path / "files")}, **settings_overrides}
    app = create_app(make_settings(database_url, **sections))
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield Api(client)
    finally:
        await within(client.close(), "the app's shutdown")
