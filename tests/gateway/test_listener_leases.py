"""One owner per listener: two `switchboard serve` on one PostgreSQL and Redis, both configured with
the same SMTP port and mailbox. One process listens and reads; the other stands by and takes over
within seconds of the owner's death (SIGKILL: no release, the lease has to expire)."""
from __future__ import annotations

import asyncio
import os
import smtplib
import subprocess
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import aiohttp
import pytest

from support.postgres_server import free_port
from support.processes import start_server, wait_ready

pytestmark = [pytest.mark.postgres, pytest.mark.redis]



@pytest.fixture
async def silent_peer() -> AsyncIterator[int]:
    server = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


def send_mail(port: int, n: int) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "Ann <ann@client.example>", "sales@shop.example", f"#{n}"
    message["Message-ID"] = f"<lease-{n}@client.example>"
    message.set_content(f"mail {n}")
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.send_message(message)


async def channels_of(http: aiohttp.ClientSession, port: int) -> dict[str, dict[str, str | None]]:
    async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
        return (await response.json())["channels"]


async def wait_state(http: aiohttp.ClientSession, port: int, channel: str, *states: str) -> None:
    for _ in range(1200):           # generous: the lease expires after 6 s, a busy host is slower
        if (await channels_of(http, port))[channel]["state"] in states:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{channel} on :{port} never {' or '.join(states)}: {await channels_of(http, port)}")


async def test_the_standby_takes_the_smtp_port_and_the_mailbox_when_the_owner_dies(
        postgres_database: str, redis_url: str, tmp_path: Path, silent_peer: int) -> None:
    smtp_port = free_port()
    config = tmp_path / "switchboard.toml"
    config.write_text(f"""
log_level = "WARNING"
[smtp]
listen = "127.0.0.1:{smtp_port}"
domains = ["shop.example"]
[imap.sales]
host = "127.0.0.1"
port = {silent_peer}
ssl = false
username = "sales@shop.example"
password = "p"
""")
    env = {**os.environ, "SWITCHBOARD_DATABASE__URL": postgres_database, "SWITCHBOARD_REDIS__URL": redis_url,
           "SWITCHBOARD_REDIS__PREFIX": f"leases{os.getpid()}:", "SWITCHBOARD_STORAGE__DIR": str(tmp_path)}
    env.pop("SWITCHBOARD_CONFIG", None)
    ports = [free_port(), free_port()]
    servers: list[subprocess.Popen[bytes]] = []
    try:
        async with aiohttp.ClientSession() as http:
            for port in ports:
                servers.append(start_server(port, env, config))
                await wait_ready(port, servers[-1], tries=600)
                if port == ports[0]:
                    await wait_state(http, port, "smtp", "connected")
            owner, standby = ports
            assert (await channels_of(http, standby))["smtp"]["state"] == "standby"
            assert (await channels_of(http, standby))["imap.sales"]["state"] == "standby"
            assert (await channels_of(http, owner))["imap.sales"]["state"] in ("connecting", "down")
            await asyncio.to_thread(send_mail, smtp_port, 1)
            assert servers[1].poll() is None, "the standby must not die on the taken port"

            servers[0].kill()
            servers[0].wait(timeout=60)
            await wait_state(http, standby, "smtp", "connected")
            # Each listener has a lease of its own: the mailbox's may be taken a moment after the port's.
            await wait_state(http, standby, "imap.sales", "connecting", "down")
            await asyncio.to_thread(send_mail, smtp_port, 2)
    finally:
        for server in servers:
            if server.poll() is None:
                server.kill()
                server.wait()
