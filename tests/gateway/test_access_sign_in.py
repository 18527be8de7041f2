"""Signing in through the real server: cross-site requests, guessing, hashing off the loop, ended sessions."""
from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher
from websockets.asyncio.client import ClientConnection, connect

from crm_store import users as user_store
from crm_store.types import Role
from gateway.app import create_app
from support.gateway_app import PASSWORD, Api, make_settings

EVIL = {"Origin": "https://evil.example"}


async def _audit_actions(api: Api, boss: dict[str, str]) -> list[str]:
    return [e["action"] for e in (await (await api.client.get("/api/v1/audit", headers=boss)).json())["items"]]


async def test_a_change_made_with_the_cookie_must_come_from_our_pages_as_json(api: Api) -> None:
    await api.add_user("olga", Role.MANAGER)
    await api.add_user("boss", Role.SUPERVISOR)
    bearer, as_boss = await api.login("olga"), await api.login("boss")
    await api.login("olga")                           # the client's cookie jar now holds olga's session cookie
    plain = {"Content-Type": "text/plain"}
    body = '{"name": "forged", "phone": "+79161234567"}'

    forged = await api.client.post("/api/v1/leads", data=body, headers={**EVIL, **plain})
    assert forged.status == 403 and (await forged.json())["error"]["code"] == "cross_origin"
    assert (await api.client.post("/api/v1/leads", data=body, headers=plain)).status == 403      # no origin
    assert (await api.client.post("/api/v1/leads", json={"name": "x"}, headers=EVIL)).status == 403
    wrong_type = await api.client.post("/api/v1/leads", data=body, headers={**api.origin, **plain})
    assert wrong_type.status == 415
    listed = await (await api.client.get("/api/v1/leads", headers=bearer)).json()
    assert listed["items"] == []                          # nothing was created

    ours = await api.client.post("/api/v1/leads", json={"name": "walk-in"}, headers=api.origin)
    assert ours.status == 201
    referred = {"Referer": f"{api.origin['Origin']}/console"}
    assert (await api.client.post("/api/v1/leads", json={"name": "walk-in 2"}, headers=referred)).status == 201
    # A bearer token is no ambient credential: its requests are not concerned.
    assert (await api.client.post("/api/v1/leads", json={"name": "api"}, headers={**bearer, **EVIL})).status == 201
    # Public form posts are cross-origin by design.
    assert (await api.client.post("/forms/default", data={"name": "site", "phone": "+79160000001"},
                                  headers=EVIL)).status == 201
    assert (await _audit_actions(api, as_boss)).count("auth.cross_site_refused") == 4


@pytest.fixture
def settings_overrides() -> dict[str, dict[str, Any]]:
    return {"http": {"login_failures_per_account": 3, "login_failures_per_address": 6}}


async def _login(api: Api, name: str, password: str) -> Any:
    return await api.client.post("/api/v1/auth/login", json={"username": name, "password": password})


async def test_guessing_is_throttled_per_account_and_per_address(api: Api) -> None:
    for name in ("olga", "petr", "ivan"):
        await api.add_user(name, Role.OPERATOR)
    await api.add_user("boss", Role.SUPERVISOR)
    as_boss = await api.login("boss")
    for _ in range(3):
        assert (await _login(api, "olga", "wrong guess")).status == 401
    blocked = await _login(api, "OLGA", PASSWORD)           # even the right password waits
    assert blocked.status == 429 and (await blocked.json())["error"]["code"] == "too_many_attempts"
    assert 0 < int(blocked.headers["Retry-After"]) <= 900
    assert (await _login(api, "petr", PASSWORD)).status == 200      # other accounts are not locked out

    for _ in range(2):
        assert (await _login(api, "petr", "wrong guess")).status == 401
    assert (await _login(api, "nobody", "wrong guess")).status == 401   # the address's 6th failure
    from_here = await _login(api, "ivan", PASSWORD)
    assert from_here.status == 429 and int(from_here.headers["Retry-After"]) > 0
    assert "auth.login_throttled" in await _audit_actions(api, as_boss)


class _HeldHasher(PasswordHasher):
    """Verifies only once the test lets it: shows whether the server answered others meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.release = threading.Event(), threading.Event()
        self.released_by_test = False

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002 - argon2's own name
        self.entered.set()
        # Were this on the event loop, the test could never release it: the bound then lets it go.
        self.released_by_test = self.release.wait(30)
        return super().verify(hash, password)


async def test_password_checks_run_off_the_event_loop(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    await api.add_user("olga", Role.OPERATOR)
    held = _HeldHasher()
    monkeypatch.setattr(user_store, "_hasher", held)
    login = asyncio.create_task(_login(api, "olga", PASSWORD))
    assert await asyncio.to_thread(held.entered.wait, 30)
    health = await api.client.get("/healthz")              # answered while the hash is still running
    assert health.status == 200
    held.release.set()
    assert (await login).status == 200 and held.released_by_test


async def _socket(api: Api, token: str) -> ClientConnection:
    return await connect(f"ws://127.0.0.1:{api.client.port}/ws?token={token}")


async def _closed_with(ws: ClientConnection) -> int | None:
    async with asyncio.timeout(20):
        await ws.wait_closed()
    return ws.close_code


async def _alive(ws: ClientConnection) -> bool:
    await ws.send('{"type": "ping", "data": {}}')
    async with asyncio.timeout(20):
        while True:
            if '"pong"' in await ws.recv():
                return True


async def test_signing_out_and_disabling_close_open_sockets_at_once(api: Api) -> None:
    olga = await api.add_user("olga", Role.OPERATOR)
    await api.add_user("root", Role.ADMIN)
    first, second, as_root = await api.login("olga"), await api.login("olga"), await api.login("root")
    one = await _socket(api, first["Authorization"].split()[1])
    two = await _socket(api, second["Authorization"].split()[1])
    try:
        assert await _alive(one) and await _alive(two)
        assert (await api.client.post("/api/v1/auth/logout", headers=first)).status == 200
        assert await _closed_with(one) == 4401
        assert await _alive(two)                             # the other session is not signed out
        disabled = await api.client.patch(f"/api/v1/users/{olga}", json={"active": False}, headers=as_root)
        assert disabled.status == 200
        assert await _closed_with(two) == 4401
    finally:
        await one.close()
        await two.close()


@pytest.mark.redis
async def test_a_sign_out_served_by_another_process_closes_the_socket_too(  # type: ignore[no-untyped-def]
        database_url, redis_url, tmp_path) -> None:
    settings = make_settings(database_url, storage={"dir": str(tmp_path / "files")},
                             redis={"url": redis_url, "prefix": f"a{uuid.uuid4().hex}:"})
    clients = [TestClient(TestServer(create_app(settings), host="127.0.0.1")) for _ in range(2)]
    try:
        for client in clients:
            await client.start_server()
        here, there = Api(clients[0]), Api(clients[1])
        await here.add_user("olga", Role.OPERATOR)
        token = await here.login("olga")
        ws = await _socket(there, token["Authorization"].split()[1])
        try:
            assert await _alive(ws)
            assert (await here.client.post("/api/v1/auth/logout", headers=token)).status == 200
            assert await _closed_with(ws) == 4401
        finally:
            await ws.close()
    finally:
        for client in clients:
            await client.close()


@pytest.mark.redis
async def test_with_redis_the_count_is_shared_by_every_process(  # type: ignore[no-untyped-def]
        database_url, redis_url, tmp_path) -> None:
    settings = make_settings(database_url, storage={"dir": str(tmp_path / "files")},
                             redis={"url": redis_url, "prefix": f"a{uuid.uuid4().hex}:"},
                             http={"login_failures_per_account": 3})
    clients = [TestClient(TestServer(create_app(settings), host="127.0.0.1")) for _ in range(2)]
    try:
        for client in clients:
            await client.start_server()
        apis = [Api(c) for c in clients]
        await apis[0].add_user("olga", Role.OPERATOR)
        for api in (apis[0], apis[1], apis[0]):            # spread over both processes
            assert (await _login(api, "olga", "wrong guess")).status == 401
        blocked = await _login(apis[1], "olga", PASSWORD)
        assert blocked.status == 429 and int(blocked.headers["Retry-After"]) > 0
    finally:
        for client in clients:
            await client.close()
