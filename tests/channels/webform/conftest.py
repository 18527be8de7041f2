"""Web-form fixtures: the channel on a real aiohttp server on 127.0.0.1, and a recording emit."""
from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from channels.webform import FormConfig, WebFormChannel
from channels.webform.config import DEFAULT_FORM
from webform_fakes import MakeClient, RecordingEmit


@pytest.fixture
async def make_client() -> AsyncIterator[MakeClient]:
    clients: list[TestClient] = []

    async def make(*forms: FormConfig, emit: Any = None, **kwargs: Any) -> TestClient:
        channel = WebFormChannel({f.key: f for f in (DEFAULT_FORM, *forms)}, emit or RecordingEmit(),
                                 region="RU", **kwargs)
        app = web.Application()
        channel.add_routes(app)
        client = TestClient(TestServer(app, host="127.0.0.1", port=0))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
def emit() -> RecordingEmit:
    return RecordingEmit()
