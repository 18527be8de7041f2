"""IMAP against a real Dovecot, the hard cases: dropped connections, poison messages, first start,
renumbered folders, the state directory, prompt stops."""
from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from imapclient import IMAPClient

from channels.email.config import Mailboxes
from channels.section import read_section
from channels.email.imap_poller import ImapPoller, UidFile
from channels.types import Accepted, InboundContact
from support.dovecot_server import Mailbox, running_dovecot
from support.recording_emit import RecordingEmit


def mailboxes(tables, region):
    return [box.in_region(region) for box in read_section(Mailboxes, tables, "imap").values()]


CORPUS = Path(__file__).with_name("corpus")
FAST = {"min_backoff": 0.05, "max_backoff": 0.2, "idle_slice": 0.5}


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    with running_dovecot() as box:
        yield box


@pytest.fixture
def imap(mailbox: Mailbox) -> Iterator[IMAPClient]:
    client = IMAPClient(mailbox.host, port=mailbox.port, ssl=False)
    client.login(mailbox.username, mailbox.password)
    for folder in ("Leads",):
        if client.folder_exists(folder):
            client.delete_folder(folder)
    client.select_folder("INBOX")
    client.delete_messages(client.search(["ALL"]))
    client.expunge()
    yield client
    client.logout()


def config(mailbox: Mailbox, port: int | None = None, **extra: object):  # type: ignore[no-untyped-def]
    table = {"host": mailbox.host, "port": port or mailbox.port, "ssl": False, "username": mailbox.username,
             "password": mailbox.password, "poll_seconds": 0.3, **extra}
    return mailboxes({"sales": table}, "RU")[0]


def deliver(imap: IMAPClient, *names: str, folder: str = "INBOX", flags: tuple[bytes, ...] = ()) -> None:
    for name in names:
        imap.append(folder, (CORPUS / name).read_bytes(), flags=flags)


def seen(imap: IMAPClient) -> set[int]:
    return set(imap.search(["SEEN"]))


async def until(condition, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


def saved(state_dir: Path) -> dict:  # type: ignore[type-arg]
    path = state_dir / "imap-uids.json"
    return json.loads(path.read_text()) if path.exists() else {}


class Proxy:
    """A TCP relay in front of Dovecot that can cut every connection, as a flaky network does."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.connections = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> Proxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.drop()
        assert self._server is not None
        self._server.close()

    def drop(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.fixture
async def proxy(mailbox: Mailbox) -> AsyncIterator[Proxy]:
    async with Proxy(mailbox.port) as running:
        yield running


@pytest.mark.parametrize("idle", [True, False], ids=["idle", "polling"])
async def test_a_dropped_connection_reconnects_and_misses_nothing(mailbox, imap, proxy, tmp_path, idle):
    emit = RecordingEmit()
    deliver(imap, "utf8_plain.eml")
    async with ImapPoller(config(mailbox, proxy.port, idle=idle), emit, tmp_path, **FAST) as poller:
        await until(lambda: len(emit.contacts) == 1)
        # Dropped before its Seen flag is set, the first mail would rightly be read again.
        await until(lambda: len(seen(imap)) == 1)
        proxy.drop()
        deliver(imap, "cp1251_qp.eml")                      # arrives while the line is down
        await until(lambda: len(emit.contacts) == 2)
        await until(lambda: len(seen(imap)) == 2)
        assert poller.connected.is_set() and proxy.connections >= 2
    assert emit.event_ids == ["<utf8-1@example.ru>", "<cp1251-1@corp.ru>"]


async def test_a_message_the_store_keeps_refusing_is_skipped_unseen_and_the_mailbox_moves_on(mailbox, imap, tmp_path):
    recorded = RecordingEmit()
    attempts: list[str] = []

    async def emit(contact: InboundContact) -> Accepted:
        attempts.append(contact.event_id)
        if contact.event_id == "<cp1251-1@corp.ru>":
            raise ValueError("the store chokes on this one")
        return await recorded(contact)

    deliver(imap, "cp1251_qp.eml", "koi8r_8bit.eml", "garbage.eml")
    async with ImapPoller(config(mailbox), emit, tmp_path, max_attempts=3, **FAST):
        await until(lambda: len(recorded.contacts) == 2)
        await until(lambda: len(seen(imap)) == 2)
    assert attempts.count("<cp1251-1@corp.ru>") == 3
    garbage = recorded.contacts[1]                      # read as best it could be, not dropped
    assert recorded.event_ids[0] == "<koi8-1@mail.ru>" and garbage.event_id != "<cp1251-1@corp.ru>" and garbage.text
    poison = imap.search(["UNSEEN"])
    assert len(poison) == 1 and b"cp1251-1" in imap.fetch(poison, ["BODY.PEEK[]"])[poison[0]][b"BODY[]"]


async def test_the_first_start_takes_unseen_mail_only_and_then_everything_new(mailbox, imap, tmp_path):
    deliver(imap, "cp1251_qp.eml", flags=(b"\\Seen",))   # read by a person before we came
    deliver(imap, "utf8_plain.eml")
    emit = RecordingEmit()
    async with ImapPoller(config(mailbox), emit, tmp_path, **FAST):
        await until(lambda: len(emit.contacts) == 1)
        deliver(imap, "koi8r_8bit.eml", flags=(b"\\Seen",))  # new mail, even if a client saw it first
        await until(lambda: len(emit.contacts) == 2)
        await until(lambda: saved(tmp_path).get("sales/INBOX", {}).get("last_uid") == max(imap.search(["ALL"])))
    assert emit.event_ids == ["<utf8-1@example.ru>", "<koi8-1@mail.ru>"]
    state = saved(tmp_path)
    assert set(state) == {"sales/INBOX"} and state["sales/INBOX"]["last_uid"] == max(imap.search(["ALL"]))


async def test_a_renumbered_folder_is_read_again_without_losing_mail(mailbox, imap, tmp_path):
    imap.create_folder("Leads")
    deliver(imap, "utf8_plain.eml", folder="Leads")
    emit = RecordingEmit()
    uids = UidFile(tmp_path / "uids.json")
    async with ImapPoller(config(mailbox, folder="Leads"), emit, uids, **FAST):
        await until(lambda: len(emit.contacts) == 1)
    old = (await uids.load("sales/Leads")).uidvalidity
    imap.delete_folder("Leads")                       # the folder is recreated: new UIDVALIDITY
    imap.create_folder("Leads")
    deliver(imap, "utf8_plain.eml", "koi8r_8bit.eml", folder="Leads")
    async with ImapPoller(config(mailbox, folder="Leads"), emit, uids, **FAST):
        await until(lambda: len(emit.contacts) == 3)
    assert (await uids.load("sales/Leads")).uidvalidity != old
    # The old message comes again under its Message-ID: the store de-duplicates it.
    assert emit.event_ids == ["<utf8-1@example.ru>", "<utf8-1@example.ru>", "<koi8-1@mail.ru>"]


async def test_stop_is_prompt_while_idling(mailbox, imap, tmp_path):
    poller = ImapPoller(config(mailbox, poll_seconds=3600), RecordingEmit(), tmp_path, **FAST)
    await poller.start()
    await asyncio.wait_for(poller.connected.wait(), 60)
    await asyncio.sleep(0.2)        # most likely in IDLE by now; stop() must be prompt in any state
    async with asyncio.timeout(60):     # generous, yet far from the hour-long poll interval
        await poller.stop()


async def test_settings_errors_name_the_key():
    with pytest.raises(ValueError, match=r"imap\.sales\.host: required"):
        mailboxes({"sales": {"username": "u", "password": "p"}}, "RU")
    with pytest.raises(ValueError, match=r"imap\.sales\.idle"):
        mailboxes({"sales": {"host": "h", "username": "u", "password": "p", "idle": "maybe"}}, "RU")
    with pytest.raises(ValueError, match=r"imap\.sales\.poll_seconds"):
        mailboxes({"sales": {"host": "h", "username": "u", "password": "p", "poll_seconds": 0}}, "RU")


async def test_stop_is_prompt_while_the_server_accepts_and_never_greets(mailbox, tmp_path):
    accepted: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)      # no greeting, ever

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    emit = RecordingEmit()
    # A long IDLE slice: the old stop() waited for it, then left the connect blocked in the mailbox's
    # worker thread, which the interpreter joins at exit (SIGTERM took the whole socket timeout).
    poller = ImapPoller(config(mailbox, port), emit, tmp_path, min_backoff=0.05, max_backoff=0.2, idle_slice=600)
    try:
        await poller.start()
        await until(lambda: accepted)
        async with asyncio.timeout(60):      # a bound for a broken stop(), far below the IDLE slice
            await poller.stop()
        stuck = [t.name for t in threading.enumerate() if t.name.startswith("imap-") and not t.daemon and t.is_alive()]
        assert not stuck, f"threads the interpreter would wait for at exit: {stuck}"
        assert not poller.connected.is_set() and not emit.contacts
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
