"""Inbound SMTP (aiosmtpd): 250 only once the message is committed; 451 tells the sender to retry."""
from __future__ import annotations

import asyncio
import logging
import re
import socket
from types import TracebackType

from aiosmtpd.smtp import MISSING, SMTP, Envelope, Session, syntax

from channels.email.config import SmtpConfig
from channels.email.parse import Automatic, fallback_contact, parse_message
from channels.email.smtp_data import DataState, read_data
from channels.types import Emit, InboundContact, IntakeRefused, IntakeUnavailable

log = logging.getLogger(__name__)
# aiosmtpd's own logger: every connection, command, sender and recipient at INFO.
PROTOCOL_LOG = logging.getLogger("mail.log")

RETRY_LATER = "451 4.3.0 Temporarily unable to store the message, try again later"


_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_PLAIN_PATH = re.compile(rf"<((?!.*=\?){_ATEXT}+(?:\.{_ATEXT}+)*@{_ATEXT}+(?:\.{_ATEXT}+)*)>")


def plain_path(arg: str) -> tuple[str, str] | None:
    """(address, parameters) of a MAIL FROM / RCPT TO argument `<dot-atom@dot-atom> [params]`, exactly as
    aiosmtpd's `SMTP._getaddr` reads it; None for any other shape (comments, quoting, routes, non-ASCII)."""
    plain = _PLAIN_PATH.match(arg)
    if plain is None:
        return None
    rest = arg[plain.end():]
    if rest[:1] in (" ", "\t"):
        rest = rest.lstrip()        # the header parser's folding white space: str.lstrip() once it starts
    if rest.startswith("("):
        return None
    return plain.group(1), rest


class _Smtp(SMTP):
    # RFC 5321 allows 1000 octets a line, but real mailers send longer HTML lines: aiosmtpd would
    # answer those "500 Line too long", a permanent refusal, and the client's mail would be lost.
    line_length_limit = 100_000

    # The idle timeout's deadline: the timer is moved only when the deadline comes sooner (see _reset_timeout).
    _idle_deadline = 0.0

    def _reset_timeout(self, duration: float | None = None) -> None:
        # aiosmtpd cancels its timer and schedules a new one on every command: three TimerHandles a mail pushed
        # into the loop's heap (compared in Python) and later popped as cancelled. Here the deadline moves and
        # the timer, when it fires early, waits again for the rest; the connection still closes at the same
        # moment, `duration or self._timeout_duration` after the last command.
        deadline = self.loop.time() + (duration or self._timeout_duration)
        self._idle_deadline = deadline
        handle = self._timeout_handle
        if handle is None or handle.cancelled() or handle.when() > deadline:
            if handle is not None:
                handle.cancel()
            self._timeout_handle = self.loop.call_at(deadline, self._idle_timer)

    def _idle_timer(self) -> None:
        handle = self._timeout_handle
        if handle is not None and self._idle_deadline > handle.when():
            self._timeout_handle = self.loop.call_at(self._idle_deadline, self._idle_timer)
            return
        self._timeout_cb()

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        # aiosmtpd reads every MAIL FROM and RCPT TO with email's header parser (~50 us each, a tenth of
        # the intake's CPU a message); the plain `<a@b>` nearly every sender writes is read directly.
        plain = plain_path(arg) if arg and not self.local_part_limit else None
        return plain if plain is not None else super()._getaddr(arg)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        # aiosmtpd's smtp_DATA with its line-by-line read replaced by `read_data` (same answers, see there).
        # Only for what SmtpIntake runs: bytes kept as bytes and a handle_DATA hook.
        if self._decode_data or "DATA" not in self._handle_hooks:
            await super().smtp_DATA(arg)
            return
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            state, content = await read_data(self._reader, self.line_length_limit, self.data_size_limit)
        except asyncio.CancelledError:
            log.info("connection lost during DATA")
            self._writer.close()
            raise
        if state is not DataState.NOMINAL:
            await self.push("500 Line too long (see RFC5321 4.5.3.1.6)" if state is DataState.TOO_LONG
                            else "552 Error: Too much mail data")
            self._set_post_data_state()
            return
        self.envelope.content = self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)


class SmtpHandler:
    """aiosmtpd handler: refuses strangers at RCPT, stores at DATA, and only then says 250."""

    def __init__(self, config: SmtpConfig, emit: Emit) -> None:
        self._config = config
        self._region = config.region        # once: a pydantic private attribute is a slow read
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
        contact = self._parse(raw, envelope)
        if contact is None:
            return "250 OK (automatic message, not filed)"
        try:
            await self._emit(contact)
        except IntakeUnavailable as exc:
            log.warning("store unavailable, asking %s to retry: %s", envelope.mail_from, exc)
            return RETRY_LATER
        except IntakeRefused as exc:
            # Retrying would be refused the same way: a permanent failure returns it to the sender now.
            log.error("message %s from %s refused by the store: %s", contact.event_id, envelope.mail_from, exc)
            return "554 5.6.0 Message cannot be stored"
        except Exception:
            # Whatever went wrong, the mail is not stored: a temporary failure keeps it at the sender.
            log.exception("message %s from %s not stored", contact.event_id, envelope.mail_from)
            return RETRY_LATER
        return "250 OK"

    def _parse(self, raw: bytes, envelope: Envelope) -> InboundContact | None:
        recipient = envelope.rcpt_tos[0].lower() if envelope.rcpt_tos else None
        sender = envelope.mail_from if isinstance(envelope.mail_from, str) else None
        if sender is not None and sender.strip() in ("", "<>"):
            sender = ""     # the null reverse-path: only bounces and other machine notices use it
        try:
            return parse_message(raw, region=self._region, recipient=recipient,
                                 max_attachment_bytes=self._config.max_attachment_bytes, envelope_sender=sender)
        except Automatic as reason:
            # Auto-replies and bounces are taken (or the sender retries forever) but make no lead.
            log.info("automatic mail from %r not filed: %s", sender, reason)
            return None
        except Exception:   # parse_message degrades by itself; this is the last line of defence
            log.exception("unreadable message from %r kept as raw text", sender)
            return fallback_contact(raw, region=self._region, recipient=recipient, envelope_sender=sender)


def quiet_protocol_log() -> None:
    """aiosmtpd's trace of the conversation only when the service logs at DEBUG (or its logger is set apart).

    At the service's default INFO it wrote six lines a message (~0.15 ms of the event loop's CPU a message,
    a fifth of the intake's, with the text handler `serve` installs) and put every sender's address in the
    log; its warnings (unknown commands, limits) still come, and our handler logs refusals itself."""
    if PROTOCOL_LOG.level == logging.NOTSET and not PROTOCOL_LOG.isEnabledFor(logging.DEBUG):
        PROTOCOL_LOG.setLevel(logging.WARNING)


class SmtpIntake:
    """The listening SMTP server on the event loop it is started from; also an async context manager."""

    def __init__(self, config: SmtpConfig, emit: Emit) -> None:
        self._config = config
        self._handler = SmtpHandler(config, emit)
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The port listened on (useful with `listen = "127.0.0.1:0"`)."""
        assert self._server is not None, "not started"
        return self._server.sockets[0].getsockname()[1]

    async def start(self) -> None:
        """Listen where configured; raises OSError when the address is taken."""
        quiet_protocol_log()
        host, port = self._config.host_port
        # aiosmtpd asks the resolver for the host name on every connection unless told once.
        hostname = await asyncio.to_thread(socket.getfqdn)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Smtp(self._handler, data_size_limit=self._config.max_bytes, enable_SMTPUTF8=True,
                          decode_data=False, hostname=hostname, ident="Switchboard ESMTP"),
            host, port)
        log.info("SMTP intake listening on %s:%s", host, self.port)

    async def stop(self) -> None:
        """Stop listening; sessions under way finish on their own."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> SmtpIntake:
        await self.start()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()
