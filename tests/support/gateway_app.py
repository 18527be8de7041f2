"""Running the real gateway in a test: settings over a test database, and a signed-in client helper."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient

from crm_store.ingest import utcnow
from crm_store.types import Role
from crm_store.users import NewUser, create_user
from gateway.keys import SESSIONS
from gateway.settings import Settings, load_settings

PASSWORD = "correct horse battery"


@dataclass
class Api:
    client: TestClient

    async def add_user(self, name: str, role: Role, **extra: Any) -> int:
        async with self.client.app[SESSIONS]() as session, session.begin():
            user = await create_user(session, NewUser(name, PASSWORD, role, **extra), utcnow())
            return user.id

    @property
    def origin(self) -> dict[str, str]:
        """The Origin header our own pages send: what a change made with the session cookie needs."""
        return {"Origin": f"http://{self.client.host}:{self.client.port}"}

    async def login(self, name: str) -> dict[str, str]:
        response = await self.client.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        assert response.status == 200, await response.text()
        return {"Authorization": f"Bearer {(await response.json())['token']}"}


def make_settings(database_url: str, **sections: dict[str, Any]) -> Settings:
    settings = load_settings(None)
    data = settings.model_dump()
    data["database"] = {"url": database_url, "auto_migrate": False}
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values} if isinstance(data.get(name), dict) else values
    return type(settings).model_validate(data)
