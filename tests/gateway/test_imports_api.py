"""/api/v1/imports end to end in a real gateway: upload, guessed mapping and preview, dry run, run, report, access."""
from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from crm_store.types import Role
from gateway.keys import SESSIONS
from support.gateway_app import Api
from sqlalchemy import func, select  # noqa: I001  (the test reads the store directly)
from crm_store.models import Contact, Lead

ROWS = [["ФИО", "Телефон", "Почта", "Компания", "Сумма", "Ответственный"],
        ["Иванов Иван", "8 916 123-45-67", "ivan@example.com", "Ромашка", "1500", "boss"],
        ["Иванов И.", "+7 916 123 45 67", "", "Ромашка", "2500", "boss"],
        ["Петрова Анна", "12-34", "anna@example.com", "", "", ""],
        ["=cmd|' /C calc'!A0", "+7 916 765 43 21", "", "", "", ""]]


def _file(rows: list[list[str]], encoding: str = "cp1251") -> bytes:
    return "\n".join(";".join(r) for r in rows).encode(encoding) + b"\n"


async def _upload(api: Api, headers: dict[str, str], data: bytes, name: str = "clients.csv") -> aiohttp.ClientResponse:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type="text/csv")
    return await api.client.post("/api/v1/imports", data=form, headers=headers)


async def _finished(api: Api, headers: dict[str, str], import_id: int) -> dict[str, Any]:
    for _ in range(600):
        job = await (await api.client.get(f"/api/v1/imports/{import_id}", headers=headers)).json()
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"import {import_id} did not finish: {job}")


async def _emptied(folder: Path) -> bool:
    """The runner commits "done" and then removes the file (in a thread): a reader may see the one before the other."""
    for _ in range(600):
        if not any(folder.iterdir()):
            return True
        await asyncio.sleep(0.05)
    return False


async def _count(api: Api, model: Any) -> int:
    async with api.client.app[SESSIONS]() as s:
        return int(await s.scalar(select(func.count()).select_from(model)))


async def test_upload_preview_dry_run_run_and_report(api: Api, tmp_path: Path) -> None:
    await api.add_user("boss", Role.ADMIN)
    headers = await api.login("boss")
    response = await _upload(api, headers, _file(ROWS))
    assert response.status == 201, await response.text()
    job = await response.json()
    assert job["rows"] == 4 and job["state"] == "uploaded" and job["encoding"] == "cp1251"
    assert job["mapping"] == {"ФИО": "name", "Телефон": "phone", "Почта": "email", "Компания": "company",
                              "Сумма": "amount", "Ответственный": "owner"}
    assert job["preview"][0]["phones"] == ["+79161234567"] and job["preview"][0]["lead"]["amount"] == 150000
    assert "12-34" in job["preview"][2]["error"]

    body = {"mapping": job["mapping"], "leads": True, "dry_run": True}
    rehearsed = await api.client.post(f"/api/v1/imports/{job['id']}/run", json=body, headers=headers)
    assert rehearsed.status == 202, await rehearsed.text()
    dry = await _finished(api, headers, job["id"])
    assert (dry["state"], dry["created"], dry["joined"], dry["invalid"]) == ("done", 2, 1, 1)
    assert await _count(api, Contact) == 0
    uploads = tmp_path / "files" / "imports"
    assert len(list(uploads.iterdir())) == 1            # the rehearsal keeps the file for the real run

    real = await api.client.post(f"/api/v1/imports/{job['id']}/run", json={**body, "dry_run": False}, headers=headers)
    assert real.status == 202
    done = await _finished(api, headers, job["id"])
    assert (done["created"], done["joined"], done["invalid"], done["leads"], done["done"]) == (2, 1, 1, 3, 4)
    assert await _count(api, Contact) == 2 and await _count(api, Lead) == 3
    assert await _emptied(uploads)                       # done with it: removed from the data folder

    rejects = await api.client.get(f"/api/v1/imports/{job['id']}/rejects.csv", headers=headers)
    table = list(csv.reader(io.StringIO((await rejects.text()).lstrip("\ufeff"))))
    assert table[0][:3] == ["row", "reason", "ФИО"] and table[1][0] == "3" and "12-34" in table[1][1]

    # The same file again: nothing new, every lead row recognised.
    again = await (await _upload(api, headers, _file(ROWS))).json()
    await api.client.post(f"/api/v1/imports/{again['id']}/run", json={**body, "dry_run": False}, headers=headers)
    second = await _finished(api, headers, again["id"])
    assert (second["created"], second["skipped"]) == (0, 3)
    assert await _count(api, Contact) == 2 and await _count(api, Lead) == 3


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_formula_in_a_refused_row_is_neutralised_in_the_rejects_file(api: Api) -> None:
    await api.add_user("boss", Role.ADMIN)
    headers = await api.login("boss")
    job = await (await _upload(api, headers, _file([["Имя", "Телефон"], ["=1+2", "bad"]], "utf-8-sig"))).json()
    await api.client.post(f"/api/v1/imports/{job['id']}/run", json={"mapping": job["mapping"]}, headers=headers)
    assert (await _finished(api, headers, job["id"]))["invalid"] == 1
    text = await (await api.client.get(f"/api/v1/imports/{job['id']}/rejects.csv", headers=headers)).text()
    assert "'=1+2" in text


MALFORMED = [
    (b"\x00\x01\x02binary\xff" * 50, "junk.csv", 422, "binary"),
    (b"PK\x03\x04truncated", "cut.xlsx", 422, "XLSX"),
    (b'\xd0\xa2\xd0\xb5\xd0\xbb;x\n"+79161234567;y\n', "quote.csv", 422, "line"),
    (b"x" * 3000, "big.csv", 413, "max_bytes"),
    (b"a,b\n1,2\n", "data.pdf", 422, "not CSV or XLSX"),
]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("settings_overrides", [{"imports": {"max_bytes": 2048}}])
async def test_malformed_files_are_refused_and_nothing_is_written(api: Api) -> None:
    await api.add_user("boss", Role.ADMIN)
    headers = await api.login("boss")
    for data, name, status, message in MALFORMED:
        response = await _upload(api, headers, data, name)
        assert response.status == status, name
        error = (await response.json())["error"]
        assert error["field"] == "file" and message in error["message"], name
    assert await _count(api, Contact) == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_only_the_import_roles_may_import(api: Api) -> None:
    await api.add_user("mike", Role.MANAGER)
    headers = await api.login("mike")
    response = await _upload(api, headers, _file(ROWS))
    assert response.status == 403
    assert (await api.client.get("/api/v1/imports/1", headers=headers)).status == 403


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_wrong_mapping_is_a_422_naming_it(api: Api) -> None:
    await api.add_user("boss", Role.ADMIN)
    headers = await api.login("boss")
    job = await (await _upload(api, headers, _file(ROWS))).json()
    response = await api.client.post(f"/api/v1/imports/{job['id']}/run", json={"mapping": {"Телефон": "shoe"}},
                                     headers=headers)
    assert response.status == 422 and (await response.json())["error"]["field"] == "mapping.Телефон"
    assert (await api.client.post(f"/api/v1/imports/{job['id']}/run", json={"mapping": {"x": "phone"}},
                                  headers=headers)).status == 422


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_progress_frames_reach_the_importing_user(api: Api) -> None:
    await api.add_user("boss", Role.ADMIN)
    headers = await api.login("boss")
    token = headers["Authorization"].removeprefix("Bearer ")
    job = await (await _upload(api, headers, _file(ROWS))).json()
    socket = await api.client.ws_connect(f"/ws?token={token}")
    try:
        await api.client.post(f"/api/v1/imports/{job['id']}/run", json={"mapping": job["mapping"]}, headers=headers)
        frames = []
        async with asyncio.timeout(60):
            while not frames or frames[-1]["state"] != "done":
                message = await socket.receive_json()
                if message["type"] == "import.progress":
                    frames.append(message["data"])
    finally:
        await socket.close()
    assert frames[0]["import_id"] == job["id"] and frames[0]["rows"] == 4
    assert frames[-1]["done"] == 4 and frames[-1]["counts"]["created"] == 2 and frames[-1]["counts"]["invalid"] == 1
