"""The e-mail channel's three settings sections, each built into the parts the gateway wires."""
from __future__ import annotations

from collections.abc import Mapping

from channels.email.config import ImapConfig, OutboundConfig, SmtpConfig
from channels.email.imap_poller import ImapPoller, UidFile
from channels.email.send import EmailResponder
from channels.email.smtp_handler import SmtpIntake
from channels.plug import BuildContext, ChannelParts, Listening


def build_intake(config: SmtpConfig, context: BuildContext) -> ChannelParts:
    """`[smtp]`: the SMTP listener; one process binds the port."""
    intake = SmtpIntake(config.in_region(context.region), context.emit)
    return ChannelParts(listeners=(Listening("smtp", intake, exclusive=True),))


def build_mailboxes(boxes: Mapping[str, ImapConfig], context: BuildContext) -> ChannelParts:
    """`[imap.<name>]`: one reader per mailbox; one process reads each (two would file the same mail twice)."""
    state = UidFile(context.storage_dir / "imap-uids.json")
    return ChannelParts(listeners=tuple(
        Listening(f"imap.{box.name}", ImapPoller(box.in_region(context.region), context.emit, state), exclusive=True)
        for box in boxes.values()))


def build_replies(config: OutboundConfig, context: BuildContext) -> ChannelParts:
    """`[email]`: replies from the console through the relay."""
    return ChannelParts(responders=(EmailResponder(config),))
