"""Inbound SMTP (aiosmtpd): 250 only once the message is committed; 451 tells the sender to retry."""
from __future__ import annotations

import asyncio
import logging

from aiosmtpd.smtp import SMTP, Envelope, Session

from channels.email.config import SmtpConfig
from channels.email.parse import Automatic, parse_message
from channels.types import Emit, IntakeUnavailable

log = logging.getLogger(__name__)


class SmtpHandler:
    """aiosmtpd handler: refuses strangers at RCPT, stores at DATA, and only then says 250."""

    def __init__(self, config: SmtpConfig, emit: Emit) -> None:
        self._config = config
        self._emit = emit

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if not self._config.accepts(address):
            log.info("refused mail for %s from %s", address, session.peer)
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        if len(raw) > self._config.max_bytes:
            return "552 5.3.4 Message too big"
        try:
            contact = parse_message(raw, region=self._config.region,
                                    max_attachment_bytes=self._config.max_attachment_bytes,
                                    recipient=envelope.rcpt_tos[0] if envelope.rcpt_tos else None)
        except Automatic as reason:
            # Auto-replies and bounces are taken (or the sender retries forever) but make no lead.
            log.info("automatic mail from %s dropped: %s", envelope.mail_from, reason)
            return "250 OK (automatic message, not filed)"
        except Exception:
            log.exception("unreadable message from %s", envelope.mail_from)
            return "554 5.6.0 Message could not be read"
        try:
            await self._emit(contact)
        except IntakeUnavailable as exc:
            log.warning("store unavailable, asking %s to retry: %s", envelope.mail_from, exc)
            return "451 4.3.0 Temporarily unable to store the message, try again later"
        return "250 OK"


class SmtpIntake:
    """The listening SMTP server on the event loop it is started from."""

    def __init__(self, config: SmtpConfig, emit: Emit) -> None:
        self._config = config
        self._handler = SmtpHandler(config, emit)
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        host, port = self._config.host_port
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self._handler, data_size_limit=self._config.max_bytes, enable_SMTPUTF8=True,
                         decode_data=False, ident="Switchboard ESMTP"),
            host, port)
        log.info("SMTP intake listening on %s:%s", host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
