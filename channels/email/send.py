"""Replies by e-mail: threaded (In-Reply-To, References), tokened subject, failures reported, not raised."""
from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from datetime import UTC, datetime

from channels.email.config import OutboundConfig
from channels.email.parse import clean_subject
from channels.types import Delivery, OutboundMessage


def build_reply(config: OutboundConfig, message: OutboundMessage) -> EmailMessage:
    domain = config.domain or config.from_address.rpartition("@")[2]
    mail = EmailMessage()
    mail["From"] = formataddr((config.from_name or "", config.from_address))
    mail["To"] = message.to
    subject = clean_subject(message.subject or "") or "Your request"
    mail["Subject"] = f"Re: [#{message.lead_id}] {subject}"
    mail["Message-ID"] = f"<{message.message_id}@{domain}>"
    mail["Date"] = format_datetime(datetime.now(UTC))
    if message.in_reply_to:
        mail["In-Reply-To"] = message.in_reply_to
    if message.references:
        mail["References"] = " ".join(message.references)
    mail.set_content(message.text)
    return mail


class EmailResponder:
    """Sends replies through the configured SMTP relay."""

    channel = "email"

    def __init__(self, config: OutboundConfig) -> None:
        self._config = config

    async def send(self, message: OutboundMessage) -> Delivery:
        mail = build_reply(self._config, message)
        try:
            await asyncio.to_thread(self._send, mail)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            return Delivery(ok=False, error=f"{code} {text.decode(errors='replace')}")
        except smtplib.SMTPResponseException as exc:
            return Delivery(ok=False, error=f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace')}",
                            retryable=400 <= exc.smtp_code < 500)
        except (OSError, smtplib.SMTPException) as exc:
            return Delivery(ok=False, error=f"mail server unreachable: {exc}", retryable=True)
        return Delivery(ok=True, provider_id=str(mail["Message-ID"]))

    def _send(self, mail: EmailMessage) -> None:
        c = self._config
        with smtplib.SMTP(c.smtp_host, c.smtp_port, timeout=c.timeout) as smtp:
            if c.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if c.username:
                smtp.login(c.username, c.password or "")
            smtp.send_message(mail)
