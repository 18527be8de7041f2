"""Logs: JSON lines tagged with request, user, lead and channel; one access line per useful request."""
from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from crm_store.types import Role
from gateway.logs import JsonFormatter, TextFormatter, bind
from support.postgres_server import free_port
from support.processes import wait_ready


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root, access = logging.getLogger(), logging.getLogger("switchboard.access")
    level, access_level = root.level, access.level
    root.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        access.setLevel(access_level)


def events(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]   # every line is one JSON object


async def test_access_lines_carry_request_user_lead_and_channel_and_skip_probes(api, json_lines):
    await api.add_user("olga", Role.MANAGER)
    headers = await api.login("olga")
    posted = await api.client.post("/forms/default", data={"phone": "+79123456789"},
                                   headers={"X-Request-Id": "from-the-proxy-1"})
    lead_id = (await posted.json())["lead_id"]
    assert posted.headers["X-Request-Id"] == "from-the-proxy-1"
    listed = await api.client.get("/api/v1/leads", headers=headers)
    assert re.fullmatch(r"[0-9a-f]{16}", listed.headers["X-Request-Id"])
    for probe in ("/healthz", "/metrics"):
        await api.client.get(probe)
    access = [e for e in events(json_lines) if e["logger"] == "switchboard.access"]
    form = next(e for e in access if e["path"] == "/forms/default")
    assert (form["request_id"], form["channel"], form["lead"], form["status"]) == (
        "from-the-proxy-1", "form", lead_id, 201)
    assert form["method"] == "POST" and form["duration_ms"] >= 0 and form["msg"] == "POST /forms/default 201"
    leads = next(e for e in access if e["path"] == "/api/v1/leads")
    assert leads["user"] == (await (await api.client.get("/api/v1/me", headers=headers)).json())["id"]
    assert leads["request_id"] == listed.headers["X-Request-Id"]
    assert not [e for e in access if e["path"] in ("/healthz", "/metrics")]


def test_text_lines_keep_their_shape_with_the_tags_appended() -> None:
    record = logging.LogRecord("gateway.x", logging.WARNING, __file__, 1, "lead %s moved", (7,), None)
    tags = bind(lead=7, channel="email")
    try:
        line = TextFormatter().format(record)
        event = json.loads(JsonFormatter().format(record))
    finally:
        for var, token in reversed(tags):
            var.reset(token)
    assert line.endswith("WARNING gateway.x: lead 7 moved [lead=7 channel=email]")
    assert (event["msg"], event["lead"], event["channel"], event["level"]) == ("lead 7 moved", 7, "email", "WARNING")
    assert "[" not in TextFormatter().format(record)          # outside, no stale tags


async def test_serve_with_json_logs_writes_only_json_lines(tmp_path: Path) -> None:
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "SWITCHBOARD_LOG__FORMAT": "json",
           "SWITCHBOARD_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path}/s.db"}
    server = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--port", str(port)], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        await wait_ready(port, server)
        async with aiohttp.ClientSession() as http:
            async with http.post(f"http://127.0.0.1:{port}/forms/default", data={"phone": "+79123456789"}) as posted:
                assert posted.status == 201
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    lines = [json.loads(line) for line in stderr.decode().splitlines()]      # a line that is not JSON fails here
    assert any(e["logger"] == "gateway.app" and e["msg"].startswith("store at") for e in lines)
    assert any(e.get("path") == "/forms/default" and e.get("channel") == "form" for e in lines)
    assert not any(e.get("path") == "/healthz" for e in lines)


CREDENTIALS = re.compile(r"^\s+\w+\s+\w+\s+password \S+$")     # "  manager    manager     password Xy..."


async def test_the_demo_logs_contacts_but_not_telegram_polling(tmp_path: Path) -> None:
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "SWITCHBOARD_HTTP__PORT": str(port), "PYTHONUNBUFFERED": "1"}
    demo = subprocess.Popen([sys.executable, "-m", "gateway", "demo", "--pace", "1"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: list[str] = []

    def posts_after_passwords() -> int:
        printed = [i for i, line in enumerate(seen) if CREDENTIALS.match(line)]
        return sum("POST /forms/default" in line for line in seen[printed[2] + 1:]) if len(printed) >= 3 else 0

    try:
        # The seeded clients' posts come before the passwords; the stream's contacts (one a second, on a
        # channel picked at random: Telegram's polling runs all along) come after them.
        async with asyncio.timeout(90):
            while posts_after_passwords() < 1:
                line = await asyncio.to_thread(demo.stdout.readline)  # type: ignore[union-attr]
                assert line, "the demo exited: " + "".join(seen[-20:])
                seen.append(line)
    finally:
        demo.terminate()
        demo.wait(15)
    assert sum(bool(CREDENTIALS.match(line)) for line in seen) == 3
    assert not [line for line in seen if "getUpdates" in line or "/bot" in line]
