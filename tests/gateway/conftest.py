"""A running gateway on 127.0.0.1 over a fresh database, and signed-in clients."""
from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from crm_store.types import Role
from crm_store.users import NewUser, create_user
from gateway.app import create_app
from gateway.keys import SESSIONS
from gateway.settings import load_settings

PASSWORD = "correct horse battery"


@dataclass
class Api:
    client: TestClient

    async def add_user(self, name: str, role: Role, **extra: Any) -> int:
        async with self.client.app[SESSIONS]() as session, session.begin():
            user = await create_user(session, NewUser(name, PASSWORD, role, **extra), _now())
            return user.id

    async def login(self, name: str) -> dict[str, str]:
        response = await self.client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        assert response.status == 200, await response.text()
        return {"Authorization": f"Bearer {(await response.json())['token']}"}


def _now():  # type: ignore[no-untyped-def]
    from crm_store.ingest import utcnow

    return utcnow()


def make_settings(database_url: str, **sections: dict[str, Any]):  # type: ignore[no-untyped-def]
    settings = load_settings(None)
    data = settings.model_dump()
    data["database"] = {"url": database_url, "auto_migrate": False}
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values} if isinstance(data.get(name), dict) else values
    return type(settings).model_validate(data)


@pytest.fixture
def settings_overrides() -> dict[str, dict[str, Any]]:
    """Tests override sections by redefining this fixture."""
    return {}


@pytest.fixture
async def api(database_url: str, settings_overrides: dict[str, dict[str, Any]], tmp_path) -> AsyncIterator[Api]:  # type: ignore[no-untyped-def]
    sections = {"storage": {"dir": str(tmp_path / "files")}, **settings_overrides}
    app = create_app(make_settings(database_url, **sections))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield Api(client)
