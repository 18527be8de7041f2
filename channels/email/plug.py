"""The e-mail channel's three settings sections, each built into the parts the gateway wires."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from channels.email.config import imap_from_mapping, outbound_from_mapping, smtp_from_mapping
from channels.email.imap_poller import ImapPoller, UidFile
from channels.email.send import EmailResponder
from channels.email.smtp_handler import SmtpIntake
from channels.plug import BuildContext, ChannelParts, Listening


def build_intake(table: Mapping[str, Any], context: BuildContext) -> ChannelParts:
    """`[smtp]`: the SMTP listener; one process binds the port."""
    return ChannelParts(listeners=(
        Listening("smtp", SmtpIntake(smtp_from_mapping(table, context.region), context.emit), exclusive=True),))


def build_mailboxes(tables: Mapping[str, Mapping[str, Any]], context: BuildContext) -> ChannelParts:
    """`[imap.<name>]`: one reader per mailbox; one process reads each (two would file the same mail twice)."""
    state = UidFile(context.storage_dir / "imap-uids.json")
    return ChannelParts(listeners=tuple(
        Listening(f"imap.{box.name}", ImapPoller(box, context.emit, state), exclusive=True)
        for box in imap_from_mapping(tables, context.region)))


def build_replies(table: Mapping[str, Any], context: BuildContext) -> ChannelParts:
    """`[email]`: replies from the console through the relay."""
    return ChannelParts(responders=(EmailResponder(outbound_from_mapping(table)),))
