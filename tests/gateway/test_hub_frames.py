"""The websocket hub with a real client (`websockets`): authentication, bad frames, heartbeats."""
from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
import websockets
from websockets.asyncio.client import connect

import operator_ui
from crm_store.types import Role
from gateway import frames


def ws_url(api, token: str | None = None) -> str:  # type: ignore[no-untyped-def]
    base = f"ws://127.0.0.1:{api.client.port}/ws"
    return f"{base}?token={token}" if token else base


async def receive(ws, kind: str) -> dict:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(60):
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == kind:
                return message["data"]


async def test_socket_needs_a_session(api):
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect(ws_url(api)):
            pass
    assert refused.value.response.status_code == 401


async def test_bad_frames_get_error_frames_and_the_socket_survives(api):
    await api.add_user("ivan", Role.OPERATOR)
    token = (await api.login("ivan"))["Authorization"].split()[1]
    async with connect(ws_url(api, token)) as ws:
        for bad, code in [("{oops", "bad_json"), ("[1, 2]", "bad_frame"), ('{"type": "fly"}', "unknown_type"),
                          ('{"type": "presence.set", "data": 5}', "bad_frame")]:
            await ws.send(bad)
            assert (await receive(ws, "error"))["code"] == code
        await ws.send(b"\x00binary")
        assert (await receive(ws, "error"))["code"] == "bad_frame"
        await ws.send(json.dumps({"type": "ping", "id": 7}))
        assert (await receive(ws, "pong"))["id"] == 7


async def test_foreign_origin_is_refused(api):
    await api.add_user("ivan", Role.OPERATOR)
    token = (await api.login("ivan"))["Authorization"].split()[1]
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with connect(ws_url(api, token), origin="https://evil.example"):
            pass
    assert refused.value.response.status_code == 403


def test_every_frame_the_server_sends_is_named_in_the_console():
    """The console compares against js/frames.js only: a frame type missing there is a frame no screen handles."""
    text = (Path(operator_ui.__file__).parent / "static" / "js" / "frames.js").read_text()
    named = set(re.findall(r"^\s+[A-Z_]+: '([a-z_.]+)',", text, flags=re.MULTILINE))
    assert frames.SERVER_FRAMES <= named, sorted(frames.SERVER_FRAMES - named)
