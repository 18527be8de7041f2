"""The e-mail channel: SMTP intake, IMAP mailboxes, replies over SMTP, and the pure MIME parser.

Gateway builds the settings from its TOML tables and starts what is configured::

    smtp = smtp_from_mapping(settings["smtp"], region)             # [smtp]
    boxes = imap_from_mapping(settings["imap"], region)            # [imap.<name>] tables
    outbound = outbound_from_mapping(settings["email"])            # [email]
    intake = SmtpIntake(smtp, emit)                                # await start() / stop()
    pollers = [ImapPoller(box, emit, state_dir) for box in boxes]  # await start() / stop()
    responder = EmailResponder(outbound)                           # a channels.types.Responder
"""
from channels.email.config import (
    ImapConfig,
    OutboundConfig,
    SmtpConfig,
    imap_from_mapping,
    outbound_from_mapping,
    smtp_from_mapping,
)
from channels.email.imap_poller import ImapPoller
from channels.email.parse import Automatic, is_automatic, parse_message
from channels.email.send import EmailResponder
from channels.email.smtp_handler import SmtpIntake
from channels.email.uid_store import Cursor, UidFile, UidStore

__all__ = [
    "Automatic", "Cursor", "EmailResponder", "ImapConfig", "ImapPoller", "OutboundConfig", "SmtpConfig",
    "SmtpIntake", "UidFile", "UidStore", "imap_from_mapping", "is_automatic", "outbound_from_mapping",
    "parse_message", "smtp_from_mapping",
]
