"""No channel's upstream blocks another: peers that accept the connection and never answer.

The Telegram Bot API, the IMAP server, the SMTP relay for replies and the PBX's AMI port all point
at a TCP server that accepts and then says nothing. The real `switchboard serve` must still come
up, take form posts and API calls, report each channel on /readyz, answer a reply through the
silent relay with 502, and stop on SIGTERM.
"""
from __future__ import annotations

import asyncio
import os
import signal
import smtplib
import subprocess
import sys
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import aiohttp
import pytest

from support.postgres_server import free_port
from support.processes import wait_ready

PASSWORD = "a long password"


@pytest.fixture
async def silent_peer() -> AsyncIterator[int]:
    """A TCP server that accepts every connection and never sends a byte."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()


def config_for(peer: int, smtp_port: int) -> str:
    return f"""
log_level = "WARNING"
[telegram]
token = "123:silent"
base_url = "http://127.0.0.1:{peer}/bot"
base_file_url = "http://127.0.0.1:{peer}/file/bot"
[imap.sales]
host = "127.0.0.1"
port = {peer}
ssl = false
username = "sales@shop.example"
password = "p"
[email]
smtp_host = "127.0.0.1"
smtp_port = {peer}
starttls = false
from_address = "sales@shop.example"
timeout = 2
[smtp]
listen = "127.0.0.1:{smtp_port}"
domains = ["shop.example"]
[ami]
host = "127.0.0.1"
port = {peer}
username = "switchboard"
secret = "s"
"""


async def readyz(http: aiohttp.ClientSession, port: int) -> dict[str, dict[str, str | None]]:
    async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
        assert response.status == 200, await response.text()
        return (await response.json())["channels"]


def send_mail(port: int) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "Ann <ann@client.example>", "sales@shop.example", "Hi"
    message["Message-ID"] = "<isolation-1@client.example>"
    message.set_content("call me back please")
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.send_message(message)


async def test_silent_peers_hold_up_nothing(tmp_path: Path, silent_peer: int) -> None:
    config = tmp_path / "switchboard.toml"
    smtp_port = free_port()
    config.write_text(config_for(silent_peer, smtp_port))
    env = {**os.environ, "SWITCHBOARD_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'sb.db'}",
           "SWITCHBOARD_STORAGE__DIR": str(tmp_path / "files")}
    env.pop("SWITCHBOARD_CONFIG", None)
    command = [sys.executable, "-m", "gateway", "--config", str(config)]
    subprocess.run([*command, "migrate"], env=env, check=True, timeout=120, capture_output=True)
    subprocess.run([*command, "user", "add", "olga", "--role", "admin", "--password-stdin"], env=env, check=True,
                   timeout=120, input=f"{PASSWORD}\n".encode(), capture_output=True)
    port = free_port()
    server = subprocess.Popen([*command, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        await wait_ready(port, server, tries=600)
        async with aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{port}"
            async with http.post(f"{base}/forms/default", data={"name": "Ann", "email": "ann@client.example",
                                                                 "message": "call me"}) as response:
                assert response.status == 201, await response.text()
                lead_id = (await response.json())["lead_id"]
            channels = await readyz(http, port)
            assert channels["telegram"]["state"] in ("connecting", "down"), channels
            assert channels["imap.sales"]["state"] in ("connecting", "down"), channels
            assert channels["ami"]["state"] in ("connecting", "down"), channels
            for _ in range(600):         # the SMTP intake is ours: it listens whatever the others do
                if (channels := await readyz(http, port))["smtp"]["state"] == "connected":
                    break
                await asyncio.sleep(0.1)
            assert channels["smtp"] == {"state": "connected", "error": None}
            async with http.post(f"{base}/api/v1/auth/login", json={"username": "olga", "password": PASSWORD}) as r:
                token = (await r.json())["token"]
            headers = {"Authorization": f"Bearer {token}"}
            await asyncio.to_thread(send_mail, smtp_port)     # 250 once committed: Ann's lead now has a mail
            async with http.post(f"{base}/api/v1/leads/{lead_id}/reply", json={"text": "hello"},
                                 headers=headers) as response:
                assert response.status == 502, await response.text()
            async with http.get(f"{base}/api/v1/leads/{lead_id}", headers=headers) as response:
                assert response.status == 200
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=120) == 0, server.stderr.read().decode(errors="replace")[-2000:] if server.stderr else ""
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
