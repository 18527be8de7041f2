"""An import killed with SIGKILL mid-way resumes when the service starts again: every row lands exactly once."""
from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from crm_store.ingest import utcnow
from crm_store.session import create_engine, session_factory
from crm_store.types import Role
from crm_store.users import NewUser, create_user
from support.postgres_server import free_port
from support.processes import start_server, wait_ready

ROWS = 2000
PASSWORD = "import admin password"


def _file(path: Path) -> Path:
    lines = ["ФИО;Телефон;Почта;Сумма"]
    lines += [f"Клиент {n};+7916{n:07d};client{n}@example.com;{n}" for n in range(ROWS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    return path


def _one(db: Path, sql: str) -> tuple[int, ...]:
    with sqlite3.connect(db, timeout=30) as c:
        return c.execute(sql).fetchone()


@pytest.mark.long
@pytest.mark.xdist_group("servers")      # a server process under load, like the other multi-process tests
async def test_a_killed_import_resumes_without_duplicates(tmp_path: Path) -> None:
    db = tmp_path / "sb.db"
    config = tmp_path / "switchboard.toml"
    # mapping_process_rows 0: the file is mapped in a child process, which must not outlive the killed service.
    config.write_text("[imports]\nbatch_rows = 20\nmapping_process_rows = 0\n")
    env = {**os.environ, "SWITCHBOARD_DATABASE__URL": f"sqlite+aiosqlite:///{db}",
           "SWITCHBOARD_STORAGE__DIR": str(tmp_path / "files")}
    port = free_port()
    server = start_server(port, env, config)
    try:
        await wait_ready(port, server)
        engine = create_engine(env["SWITCHBOARD_DATABASE__URL"])
        async with session_factory(engine)() as s, s.begin():
            await create_user(s, NewUser("boss", PASSWORD, Role.ADMIN), utcnow())
        await engine.dispose()
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/api/v1/auth/login", json={"username": "boss", "password": PASSWORD}) as r:
                headers = {"Authorization": f"Bearer {(await r.json())['token']}"}
            form = aiohttp.FormData()
            form.add_field("file", _file(tmp_path / "clients.csv").read_bytes(), filename="clients.csv")
            async with http.post(f"{base}/api/v1/imports", data=form, headers=headers) as r:
                assert r.status == 201, await r.text()
                job = await r.json()
            async with http.post(f"{base}/api/v1/imports/{job['id']}/run", headers=headers,
                                 json={"mapping": job["mapping"], "leads": True}) as r:
                assert r.status == 202, await r.text()
        for _ in range(3000):
            if _one(db, f"SELECT cursor FROM imports WHERE id = {job['id']}")[0] > 0:
                break
            await asyncio.sleep(0.01)
        server.kill()
        server.wait(timeout=30)
        cursor, state = _one(db, f"SELECT cursor, state FROM imports WHERE id = {job['id']}")
        assert 0 < cursor < ROWS and state == "running"       # stopped mid-way, nothing told it to finish

        server = start_server(port, env, config)
        await wait_ready(port, server)
        for _ in range(6000):
            if _one(db, f"SELECT state FROM imports WHERE id = {job['id']}")[0] != "running":
                break
            await asyncio.sleep(0.05)
        assert _one(db, f"SELECT state, cursor FROM imports WHERE id = {job['id']}") == ("done", ROWS)
        assert _one(db, "SELECT count(*), count(DISTINCT display_name) FROM contacts") == (ROWS, ROWS)
        assert _one(db, "SELECT count(*) FROM identities") == (2 * ROWS,)
        assert _one(db, "SELECT count(*), count(DISTINCT contact_id), sum(amount) FROM leads") == (
            ROWS, ROWS, 100 * sum(range(ROWS)))
        assert _one(db, "SELECT count(*) FROM interactions WHERE channel = 'import'") == (ROWS,)
    finally:
        server.kill()
        server.wait(timeout=30)
