"""IMAP mailboxes: new mail by UID, acknowledged (\\Seen or moved) only after it is committed.

imapclient blocks, so every call runs in a worker thread. The last committed UID is kept per
mailbox together with its UIDVALIDITY, so a restart re-reads nothing twice and misses nothing;
should the server renumber the folder, the store's Message-ID de-duplication makes the re-read
harmless.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imapclient import IMAPClient

from channels.email.config import ImapConfig
from channels.email.parse import Automatic, parse_message
from channels.types import Emit, IntakeUnavailable

log = logging.getLogger(__name__)

FETCH = "BODY.PEEK[]"   # PEEK: reading must not mark the message seen before it is committed
IDLE_SLICE = 2.0        # how long one IDLE wait blocks a thread, so stopping stays prompt


@dataclass
class Cursor:
    uidvalidity: int
    last_uid: int


class UidFile:
    """The last committed UID per mailbox, in one small JSON file, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def load(self, name: str) -> Cursor | None:
        try:
            data = json.loads(self._path.read_text())[name]
            return Cursor(int(data["uidvalidity"]), int(data["last_uid"]))
        except (OSError, KeyError, ValueError, TypeError):
            return None

    def save(self, name: str, cursor: Cursor) -> None:
        try:
            data = json.loads(self._path.read_text())
        except (OSError, ValueError):
            data = {}
        data[name] = {"uidvalidity": cursor.uidvalidity, "last_uid": cursor.last_uid}
        self._path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data))
        os.replace(temporary, self._path)


class ImapPoller:
    def __init__(self, config: ImapConfig, emit: Emit, state: UidFile, *, max_backoff: float = 60.0) -> None:
        self._config = config
        self._emit = emit
        self._state = state
        self._max_backoff = max_backoff
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.connected = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"imap.{self._config.name}")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        delay = 1.0
        while not self._stopping:
            try:
                await self._session()
                delay = 1.0
            except asyncio.CancelledError:
                raise
            except IntakeUnavailable as exc:
                log.warning("mailbox %s: store unavailable, will retry: %s", self._config.name, exc)
            except Exception as exc:   # network, protocol, login: reconnect with backoff
                log.warning("mailbox %s: %s; reconnecting in %.1fs", self._config.name, exc, delay)
            self.connected.clear()
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, self._max_backoff)

    async def _session(self) -> None:
        client = await asyncio.to_thread(self._connect)
        try:
            info = await asyncio.to_thread(client.select_folder, self._config.folder)
            cursor = self._cursor(int(info[b"UIDVALIDITY"]))
            idle = self._config.idle and b"IDLE" in await asyncio.to_thread(client.capabilities)
            self.connected.set()
            while not self._stopping:
                await self._drain(client, cursor)
                await self._wait(client, idle)
        finally:
            await asyncio.to_thread(_logout, client)

    def _connect(self) -> IMAPClient:
        c = self._config
        client = IMAPClient(c.host, port=c.port, ssl=c.ssl, timeout=30)
        client.login(c.username, c.password)
        return client

    def _cursor(self, uidvalidity: int) -> Cursor:
        cursor = self._state.load(self._config.name)
        if cursor is None or cursor.uidvalidity != uidvalidity:
            if cursor is not None:
                log.warning("mailbox %s was renumbered (UIDVALIDITY %s -> %s): reading it again",
                            self._config.name, cursor.uidvalidity, uidvalidity)
            cursor = Cursor(uidvalidity, 0)
        return cursor

    async def _drain(self, client: IMAPClient, cursor: Cursor) -> None:
        # "N:*" also returns the newest message when it is older than N: filter by number.
        uids = sorted(u for u in await asyncio.to_thread(client.search, ["UID", f"{cursor.last_uid + 1}:*"])
                      if u > cursor.last_uid)
        for uid in uids:
            fetched = await asyncio.to_thread(client.fetch, [uid], [FETCH])
            raw = _body(fetched.get(uid, {}))
            await self._deliver(uid, raw)
            await asyncio.to_thread(self._acknowledge, client, uid)
            cursor.last_uid = uid
            self._state.save(self._config.name, cursor)

    async def _deliver(self, uid: int, raw: bytes) -> None:
        try:
            contact = parse_message(raw, region=self._config.region,
                                    max_attachment_bytes=self._config.max_attachment_bytes,
                                    recipient=self._config.username)
        except Automatic as reason:
            log.info("mailbox %s uid %s: automatic mail, not filed (%s)", self._config.name, uid, reason)
            return
        except Exception:
            # One unreadable message must not block the mailbox: it is skipped, left unseen, logged.
            log.exception("mailbox %s uid %s: unreadable message skipped", self._config.name, uid)
            return
        await self._emit(contact)     # IntakeUnavailable propagates: nothing acknowledged

    def _acknowledge(self, client: IMAPClient, uid: int) -> None:
        if self._config.move_to:
            client.move([uid], self._config.move_to)
        else:
            client.add_flags([uid], [b"\\Seen"])

    async def _wait(self, client: IMAPClient, idle: bool) -> None:
        if not idle:
            await asyncio.sleep(self._config.poll_seconds)
            return
        waited = 0.0
        while waited < self._config.poll_seconds and not self._stopping:
            responses = await asyncio.to_thread(_idle_once, client, IDLE_SLICE)
            if any(r[1] in (b"EXISTS", b"RECENT") for r in responses if len(r) > 1):
                return
            waited += IDLE_SLICE


def _idle_once(client: IMAPClient, seconds: float) -> list[Any]:
    client.idle()
    try:
        return client.idle_check(timeout=seconds)
    finally:
        client.idle_done()


def _body(item: dict[bytes, Any]) -> bytes:
    for key, value in item.items():
        if key.startswith(b"BODY[") and isinstance(value, bytes):
            return value
    return b""


def _logout(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:   # the connection may already be gone; nothing to save
        log.debug("logout failed", exc_info=True)
