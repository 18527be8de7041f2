"""The e-mail channel: SMTP intake, IMAP mailboxes, replies over SMTP, and the pure MIME parser.

Gateway builds each of its settings sections with `build_intake` ([smtp]), `build_mailboxes`
([imap.<name>]) and `build_replies` ([email]) from `channels.email.plug`.
"""
from channels.email.config import ImapConfig, Mailboxes, OutboundConfig, SmtpConfig
from channels.email.imap_poller import ImapPoller
from channels.email.parse import Automatic, is_automatic, parse_message
from channels.email.send import EmailResponder
from channels.email.smtp_handler import SmtpIntake
from channels.email.uid_store import Cursor, UidFile, UidStore

__all__ = [
    "Automatic", "Cursor", "EmailResponder", "ImapConfig", "ImapPoller", "OutboundConfig", "SmtpConfig",
    "SmtpIntake", "UidFile", "UidStore", "Mailboxes", "is_automatic", "parse_message",
]
