"""IMAP mailboxes: new mail by UID, acknowledged (\\Seen or moved) only after it is committed.

imapclient blocks, so its calls run in a worker thread: one per mailbox, so that calls on one
connection never overlap (stopping waits for an IDLE slice instead of racing it) and IDLE never ties
up the shared default pool. The last handled UID is kept per mailbox under its UIDVALIDITY, so a
restart re-reads nothing twice and misses nothing; should the server renumber the folder, the
store's Message-ID de-duplication makes the re-read harmless.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import Any, TypeVar

from imapclient import IMAPClient

from channels.backoff import Backoff
from channels.email.config import ImapConfig
from channels.email.parse import Automatic, fallback_contact, parse_message
from channels.email.uid_store import Cursor, UidFile, UidStore
from channels.types import Emit, IntakeUnavailable

__all__ = ["Cursor", "ImapPoller", "UidFile", "UidStore"]

log = logging.getLogger(__name__)

FETCH = "BODY.PEEK[]"   # PEEK: reading must not mark the message seen before it is committed
SEEN = b"\\Seen"
T = TypeVar("T")


class _Retry(Exception):
    """This message could not be filed now; stop the round and try it again after a pause."""


class ImapPoller:
    """One mailbox folder, read with IDLE where offered and by polling otherwise; start()/stop()."""

    def __init__(self, config: ImapConfig, emit: Emit, state: UidStore | str | os.PathLike[str], *,
                 min_backoff: float = 1.0, max_backoff: float = 60.0, idle_slice: float = 2.0,
                 max_attempts: int = 5) -> None:
        self._config = config
        self._emit = emit
        # A path is the state directory gateway gives; anything else is an injected UidStore.
        self._state: UidStore = UidFile.in_dir(state) if isinstance(state, (str, os.PathLike)) else state
        self._key = f"{config.name}/{config.folder}"
        self._min_backoff = min(min_backoff, max_backoff)
        self._max_backoff = max_backoff
        self._idle_slice = idle_slice        # one IDLE wait blocks the thread this long: bounds stop()
        self._max_attempts = max_attempts    # a message failing this often is skipped, left unseen
        self._attempts: dict[int, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._stopping = asyncio.Event()
        self._can_move = False
        self._connecting = False
        self.connected = asyncio.Event()
        self.last_error: str | None = None     # why the last session ended, for /readyz

    async def start(self) -> None:
        """Start reading in the background; connection problems are retried, never raised."""
        self._stopping.clear()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"imap-{self._config.name}")
        self._task = asyncio.create_task(self._run(), name=f"imap.{self._config.name}")

    async def stop(self) -> None:
        """Finish the message in hand, log out, and return (cancelling if the server hangs)."""
        self._stopping.set()
        if self._task is not None and self._connecting:
            # Nothing is in hand while connecting, and a server that accepts and never greets would
            # hold us for the whole socket timeout: the attempt is abandoned at once.
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        elif self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), self._idle_slice + 5)
            except (TimeoutError, asyncio.TimeoutError):
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    async def __aenter__(self) -> ImapPoller:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(function, *args))

    async def _run(self) -> None:
        backoff = Backoff(self._min_backoff, self._max_backoff)
        while not self._stopping.is_set():
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:   # network, protocol, login: reconnect with jittered backoff
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("mailbox %s: %s; reconnecting", self._config.name, self.last_error)
            if self.connected.is_set():
                backoff.reset()     # it worked for a while: start the backoff afresh
            self.connected.clear()
            await backoff.sleep(self._stopping)

    async def _pause(self, seconds: float) -> None:
        with suppress(TimeoutError, asyncio.TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _session(self) -> None:
        self._connecting = True
        try:
            client = await self._abandonable_connect()
        finally:
            self._connecting = False
        try:
            info = await self._call(client.select_folder, self._config.folder)
            capabilities = await self._call(client.capabilities)
            self._can_move = b"MOVE" in capabilities
            idle = self._config.idle and b"IDLE" in capabilities
            cursor = await self._cursor(client, info)
            self.connected.set()
            backoff = Backoff(self._min_backoff, self._max_backoff)
            while not self._stopping.is_set():
                try:
                    await self._drain(client, cursor)
                    backoff.reset()
                except (IntakeUnavailable, _Retry) as exc:
                    # Nothing was acknowledged: stay connected and try the same message later.
                    log.warning("mailbox %s: not filed now, retrying: %s", self._config.name, exc)
                    await backoff.sleep(self._stopping)
                    continue
                await self._wait(client, idle)
        finally:
            await self._call(_logout, client)

    async def _abandonable_connect(self) -> IMAPClient:
        """Connect in a daemon thread of its own: a hanging attempt never delays stop() or the exit of
        the process (the mailbox's worker thread is joined at exit); abandoned, it logs out by itself."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[IMAPClient] = loop.create_future()

        def settle(client: IMAPClient | None, error: BaseException | None) -> None:
            if future.done():           # abandoned meanwhile
                if client is not None:
                    threading.Thread(target=_logout, args=(client,), daemon=True).start()
            elif error is not None:
                future.set_exception(error)
            else:
                future.set_result(client)       # type: ignore[arg-type]

        def work() -> None:
            client, error = None, None
            try:
                client = self._connect()
            except Exception as exc:
                error = exc
            try:
                loop.call_soon_threadsafe(settle, client, error)
            except RuntimeError:        # the loop is gone: nobody will use this connection
                if client is not None:
                    _logout(client)

        threading.Thread(target=work, daemon=True, name=f"imap-connect-{self._config.name}").start()
        return await future

    def _connect(self) -> IMAPClient:
        c = self._config
        client = IMAPClient(c.host, port=c.port, ssl=c.ssl, timeout=30)
        client.login(c.username, c.password)
        return client

    async def _cursor(self, client: IMAPClient, info: dict[bytes, Any]) -> Cursor:
        uidvalidity = int(info[b"UIDVALIDITY"])
        cursor = await self._state.load(self._key)
        if cursor is not None and cursor.uidvalidity == uidvalidity:
            return cursor
        if cursor is not None:
            log.warning("mailbox %s was renumbered (UIDVALIDITY %s -> %s): reading its unseen mail again",
                        self._key, cursor.uidvalidity, uidvalidity)
        # First sight of this folder: mail already read by people is history, not new contacts;
        # a folder we empty by moving holds only mail still to file.
        baseline = 0
        if not self._config.move_to:
            uidnext = info.get(b"UIDNEXT")
            if uidnext is None:
                uidnext = max(await self._call(client.search, ["ALL"]), default=0) + 1
            baseline = int(uidnext) - 1
        cursor = Cursor(uidvalidity, 0, baseline)
        await self._state.save(self._key, cursor)
        return cursor

    async def _drain(self, client: IMAPClient, cursor: Cursor) -> None:
        # "N:*" also returns the newest message when it is older than N: filter by number.
        uids = sorted(u for u in await self._call(client.search, ["UID", f"{cursor.last_uid + 1}:*"])
                      if u > cursor.last_uid)
        if uids and cursor.last_uid < cursor.baseline:
            unseen = set(await self._call(client.search, ["UNSEEN", "UID", f"{cursor.last_uid + 1}:{cursor.baseline}"]))
            uids = [u for u in uids if u > cursor.baseline or u in unseen]
        for uid in uids:
            if self._stopping.is_set():
                return
            fetched = await self._call(client.fetch, [uid], [FETCH])
            if uid in fetched:     # else expunged meanwhile: nothing to file
                if await self._deliver(uid, _body(fetched[uid])):
                    await self._call(self._acknowledge, client, uid)
            cursor.last_uid = uid
            await self._state.save(self._key, cursor)
        if cursor.last_uid < cursor.baseline:
            cursor.last_uid = cursor.baseline
            await self._state.save(self._key, cursor)

    async def _deliver(self, uid: int, raw: bytes) -> bool:
        """File one message; True when it may be acknowledged, False to leave it unseen and move on."""
        c = self._config
        try:
            contact = parse_message(raw, region=c.region, max_attachment_bytes=c.max_attachment_bytes,
                                    recipient=c.username)
        except Automatic as reason:
            log.info("mailbox %s uid %s: automatic mail, not filed (%s)", c.name, uid, reason)
            return True
        except Exception:   # parse_message degrades by itself; this is the last line of defence
            log.exception("mailbox %s uid %s: unreadable message kept as raw text", c.name, uid)
            contact = fallback_contact(raw, region=c.region, recipient=c.username)
        try:
            await self._emit(contact)     # IntakeUnavailable propagates: nothing acknowledged
        except IntakeUnavailable:
            raise
        except Exception as exc:
            attempts = self._attempts.get(uid, 0) + 1
            self._attempts[uid] = attempts
            if attempts < self._max_attempts:
                raise _Retry(f"uid {uid}: {type(exc).__name__}: {exc}") from exc
            # One message the store keeps refusing must not block the mailbox: it stays unseen for a person.
            log.exception("mailbox %s uid %s: failed %s times, skipped and left unseen", c.name, uid, attempts)
            self._attempts.pop(uid, None)
            return False
        self._attempts.pop(uid, None)
        return True

    def _acknowledge(self, client: IMAPClient, uid: int) -> None:
        client.add_flags([uid], [SEEN])
        if not self._config.move_to:
            return
        if self._can_move:
            client.move([uid], self._config.move_to)
            return
        client.copy([uid], self._config.move_to)
        client.delete_messages([uid])
        if client.has_capability("UIDPLUS"):
            client.uid_expunge([uid])
        else:
            client.expunge()

    async def _wait(self, client: IMAPClient, idle: bool) -> None:
        """Until new mail is announced (IDLE), or the poll interval passes, or stop()."""
        if not idle:
            await self._pause(self._config.poll_seconds)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._config.poll_seconds
        while not self._stopping.is_set() and (left := deadline - loop.time()) > 0:
            responses = await self._call(_idle_once, client, min(self._idle_slice, left))
            if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                return


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
