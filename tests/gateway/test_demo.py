"""`switchboard demo` as a newcomer runs it: its own process, printed passwords, a card popping within a minute."""
from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import aiohttp

from support.postgres_server import free_port


async def test_the_demo_rings_the_operators_phone_with_the_callers_card(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "SWITCHBOARD_HTTP__PORT": str(port), "SWITCHBOARD_LOG_LEVEL": "WARNING"}
    env.pop("SWITCHBOARD_CONFIG", None)
    # The fastest pace the demo takes: a call comes within seconds (the default is one contact every 20-40 s).
    demo = subprocess.Popen([sys.executable, "-m", "gateway", "demo", "--pace", "1"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        passwords: dict[str, str] = {}
        async with asyncio.timeout(30):
            while len(passwords) < 3:
                line = await asyncio.to_thread(demo.stdout.readline)  # type: ignore[union-attr]
                assert line, "the demo exited before printing its users"
                if found := re.match(r"\s+\w+\s+(\w+)\s+password (\S+)", line):
                    passwords[found[1]] = found[2]
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            sockets = []
            for name in ("operator", "manager"):      # extensions 101 and 102: every demo call rings one of them
                async with http.post(f"{base}/api/v1/auth/login",
                                     json={"username": name, "password": passwords[name]}) as response:
                    token = (await response.json())["token"]
                sockets.append(await http.ws_connect(f"ws://127.0.0.1:{port}/ws?token={token}"))

            async def first_ring(sock: aiohttp.ClientWebSocketResponse) -> dict:
                """The first pop, with its card (in the pop, or in the `call.card` that follows one sent without)."""
                ringing = None
                async for message in sock:
                    frame = json.loads(message.data)
                    if frame["type"] == "call.ringing" and ringing is None:
                        ringing = frame["data"]
                    elif frame["type"] == "call.card" and ringing and frame["data"]["call_id"] == ringing["call_id"]:
                        ringing = {**ringing, "card": frame["data"]["card"]}
                    if ringing is not None and ringing["card"] is not None:
                        return ringing
                raise AssertionError("socket closed")

            async with asyncio.timeout(60):
                done, pending = await asyncio.wait([asyncio.create_task(first_ring(s)) for s in sockets],
                                                   return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            ringing = done.pop().result()
            assert ringing["caller"].startswith("+7") and ringing["card"]["contact"]["identities"]
            assert ringing["card"]["summary"]["phone"] == ringing["caller"]
            for sock in sockets:
                await sock.close()
    finally:
        demo.terminate()
        demo.wait(15)
