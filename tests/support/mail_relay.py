"""A mail relay on loopback (aiosmtpd) that keeps what it accepts and refuses one address."""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiosmtpd.smtp import SMTP, Envelope, Session

REFUSED = "gone@example.ru"


class Relay:
    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.port = 0

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          options: list[str]) -> str:
        if address == REFUSED:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(envelope.original_content or b"")
        return "250 OK"


@contextlib.asynccontextmanager
async def running_relay() -> AsyncIterator[Relay]:
    relay = Relay()
    server = await asyncio.get_running_loop().create_server(lambda: SMTP(relay), "127.0.0.1", 0)
    relay.port = server.sockets[0].getsockname()[1]
    try:
        yield relay
    finally:
        server.close()
        await server.wait_closed()
