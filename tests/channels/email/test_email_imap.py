"""IMAP against a real Dovecot: new mail committed then marked \\Seen; restarts neither lose nor repeat."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from imapclient import IMAPClient

from channels.email.config import Mailboxes
from channels.section import read_section
from channels.email.imap_poller import ImapPoller, UidFile
from support.recording_emit import RecordingEmit
from support.dovecot_server import Mailbox, running_dovecot


def mailboxes(tables, region):
    return [box.in_region(region) for box in read_section(Mailboxes, tables, "imap").values()]


CORPUS = Path(__file__).with_name("corpus")


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    with running_dovecot() as box:
        yield box


@pytest.fixture
def imap(mailbox: Mailbox) -> Iterator[IMAPClient]:
    """A second client, as the outside world: it delivers mail and looks at flags."""
    client = IMAPClient(mailbox.host, port=mailbox.port, ssl=False)
    client.login(mailbox.username, mailbox.password)
    client.select_folder("INBOX")
    client.delete_messages(client.search(["ALL"]))
    client.expunge()
    yield client
    client.logout()


def config(mailbox: Mailbox, **extra: object):  # type: ignore[no-untyped-def]
    table = {"host": mailbox.host, "port": mailbox.port, "ssl": False, "username": mailbox.username,
             "password": mailbox.password, "poll_seconds": 0.2, **extra}
    return mailboxes({"sales": table}, "RU")[0]


def deliver(imap: IMAPClient, *names: str) -> None:
    for name in names:
        imap.append("INBOX", (CORPUS / name).read_bytes())


def seen(imap: IMAPClient) -> int:
    return len(imap.search(["SEEN"]))


async def until(condition, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


async def test_new_mail_is_committed_then_marked_seen_and_machine_mail_is_skipped(mailbox, imap, tmp_path):
    deliver(imap, "utf8_plain.eml", "autoreply.eml", "malformed.eml")
    emit = RecordingEmit()
    poller = ImapPoller(config(mailbox), emit, UidFile(tmp_path / "uids.json"))
    await poller.start()
    try:
        await until(lambda: seen(imap) == 3)
        deliver(imap, "reply_with_quote.eml")                 # arrives while we IDLE
        await until(lambda: len(emit.contacts) == 3)
    finally:
        await poller.stop()
    assert emit.event_ids[0] == "<utf8-1@example.ru>" and emit.event_ids[2] == "<reply-1@example.ru>"
    assert emit.contacts[1].email == "broken-sender@client.ru"   # malformed, stored as well as it can be


async def test_nothing_is_acknowledged_while_the_store_is_down(mailbox, imap, tmp_path):
    deliver(imap, "cp1251_qp.eml")
    emit = RecordingEmit()
    emit.down = True
    poller = ImapPoller(config(mailbox), emit, UidFile(tmp_path / "uids.json"), max_backoff=0.2)
    await poller.start()
    try:
        await until(lambda: emit.refused >= 2)         # offered, refused, and offered again
        assert seen(imap) == 0 and emit.contacts == []
        emit.down = False
        await until(lambda: seen(imap) == 1)
    finally:
        await poller.stop()
    assert emit.event_ids == ["<cp1251-1@corp.ru>"]


@pytest.mark.parametrize("idle", [True, False], ids=["idle", "polling"])
async def test_a_restart_reads_nothing_twice_and_misses_nothing(mailbox, imap, tmp_path, idle):
    uids = UidFile(tmp_path / "uids.json")
    emit = RecordingEmit()
    deliver(imap, "utf8_plain.eml", "cp1251_qp.eml")
    first = ImapPoller(config(mailbox, idle=idle), emit, uids)
    await first.start()
    await until(lambda: len(emit.contacts) == 2)
    await first.stop()
    imap.remove_flags(imap.search(["ALL"]), [b"\\Seen"])       # someone marks them unread again
    deliver(imap, "koi8r_8bit.eml")                             # and new mail comes while we are down
    second = ImapPoller(config(mailbox, idle=idle), emit, uids)
    await second.start()
    try:
        await until(lambda: len(emit.contacts) == 3)
        deliver(imap, "token_only.eml")         # a later mail: a repeat of the earlier ones would come first
        await until(lambda: "<token-1@example.ru>" in emit.event_ids)
    finally:
        await second.stop()
    assert emit.event_ids == ["<utf8-1@example.ru>", "<cp1251-1@corp.ru>", "<koi8-1@mail.ru>", "<token-1@example.ru>"]


async def test_committed_mail_can_be_moved_to_a_folder(mailbox, imap, tmp_path):
    if "Done" not in [name for _, _, name in imap.list_folders()]:
        imap.create_folder("Done")
    deliver(imap, "token_only.eml")
    emit = RecordingEmit()
    poller = ImapPoller(config(mailbox, move_to="Done"), emit, UidFile(tmp_path / "uids.json"))
    await poller.start()
    try:
        await until(lambda: len(imap.search(["ALL"])) == 0)
    finally:
        await poller.stop()
    assert emit.event_ids == ["<token-1@example.ru>"]
    assert imap.folder_status("Done", [b"MESSAGES"])[b"MESSAGES"] >= 1


async def test_a_wrong_password_keeps_retrying_without_crashing(mailbox, tmp_path, caplog):
    emit = RecordingEmit()
    poller = ImapPoller(config(mailbox, password="wrong"), emit, UidFile(tmp_path / "uids.json"), max_backoff=0.1)
    await poller.start()

    def retries() -> int:
        return sum("reconnecting" in r.getMessage() for r in caplog.records if r.name == "channels.email.imap_poller")

    await until(lambda: retries() >= 2)          # refused, and tried again
    assert not poller.connected.is_set() and emit.contacts == [] and poller.last_error
    await poller.stop()
