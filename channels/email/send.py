"""Replies by e-mail: threaded (In-Reply-To, References), tokened subject, failures reported, not raised."""
from __future__ import annotations

import asyncio
import smtplib
import socket
import ssl
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from channels.email.config import OutboundConfig
from channels.email.parse import MESSAGE_ID, clean_subject
from channels.identity import InvalidIdentity, normalize_email
from channels.types import Delivery, OutboundMessage
from vocabulary.channels import EMAIL


class InvalidReply(ValueError):
    """The reply cannot be sent as given (bad recipient address)."""


def build_reply(config: OutboundConfig, message: OutboundMessage) -> EmailMessage:
    """The MIME message for `message`: From us, Subject "Re: [#lead] …", threaded under the client's mail."""
    try:
        to = normalize_email(message.to)
    except InvalidIdentity as exc:
        raise InvalidReply(f"invalid recipient address {message.to!r}: {exc}") from exc
    domain = config.domain or config.from_address.rpartition("@")[2]
    mail = EmailMessage()
    local, _, from_domain = config.from_address.rpartition("@")
    mail["From"] = Address(_one_line(config.from_name or ""), local, from_domain)
    mail["To"] = to
    subject = clean_subject(_one_line(message.subject or "")) or "Your request"
    mail["Subject"] = f"Re: [#{message.lead_id}] {subject}"
    mail["Message-ID"] = f"<{message.message_id}@{domain}>"
    mail["Date"] = format_datetime(datetime.now(UTC))
    # References: the whole chain, root first, ending with the message answered (RFC 5322 3.6.4).
    chain = [i for ref in (message.thread_ref, *message.references, message.in_reply_to) if ref
             for i in MESSAGE_ID.findall(ref)]
    references = list(dict.fromkeys(chain))
    if message.in_reply_to and MESSAGE_ID.findall(message.in_reply_to):
        parent = MESSAGE_ID.findall(message.in_reply_to)[0]
        mail["In-Reply-To"] = parent
        references = [r for r in references if r != parent] + [parent]
    if references:
        mail["References"] = " ".join(references)
    mail.set_content(message.text)
    return mail


def _one_line(text: str) -> str:
    return " ".join(text.split())


class EmailResponder:
    """Sends replies through the configured SMTP relay; implements channels.types.Responder."""

    channel = EMAIL

    def __init__(self, config: OutboundConfig) -> None:
        self._config = config

    async def send(self, message: OutboundMessage) -> Delivery:
        """Send one reply; every failure comes back as Delivery(ok=False, error=...)."""
        try:
            mail = build_reply(self._config, message)
        except (InvalidReply, ValueError, TypeError) as exc:
            return Delivery(ok=False, error=f"reply not sent: {exc}")
        host = f"{self._config.smtp_host}:{self._config.smtp_port}"
        try:
            await asyncio.to_thread(self._send, mail)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            return Delivery(ok=False, error=f"{code} {_text(text)}", retryable=400 <= code < 500)
        except smtplib.SMTPAuthenticationError as exc:
            return Delivery(ok=False, error=f"{exc.smtp_code} login to {host} refused: {_text(exc.smtp_error)}")
        except smtplib.SMTPResponseException as exc:
            return Delivery(ok=False, error=f"{exc.smtp_code} {_text(exc.smtp_error)}",
                            retryable=400 <= exc.smtp_code < 500)
        except smtplib.SMTPNotSupportedError as exc:
            return Delivery(ok=False, error=f"mail server {host} does not support it: {exc}")
        except ssl.SSLError as exc:
            return Delivery(ok=False, error=f"TLS with mail server {host} failed: {exc}", retryable=True)
        except (TimeoutError, socket.timeout):
            return Delivery(ok=False, error=f"mail server {host} timed out", retryable=True)
        except ConnectionRefusedError:
            return Delivery(ok=False, error=f"mail server {host} unreachable: connection refused", retryable=True)
        except (OSError, smtplib.SMTPException) as exc:
            return Delivery(ok=False, error=f"mail server {host} unreachable: {exc or type(exc).__name__}",
                            retryable=True)
        return Delivery(ok=True, provider_id=str(mail["Message-ID"]))

    def _send(self, mail: EmailMessage) -> None:
        c = self._config
        smtp: smtplib.SMTP
        if c.ssl:
            smtp = smtplib.SMTP_SSL(c.smtp_host, c.smtp_port, timeout=c.timeout, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(c.smtp_host, c.smtp_port, timeout=c.timeout)
        with smtp:
            if c.starttls and not c.ssl:
                smtp.starttls(context=ssl.create_default_context())
            if c.username:
                smtp.login(c.username, c.password or "")
            smtp.send_message(mail)


def _text(raw: bytes | str) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
