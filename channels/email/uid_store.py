"""Where each mailbox's reading position is kept: the last handled UID under the folder's UIDVALIDITY."""
from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass
class Cursor:
    """UIDs up to `last_uid` are handled; below `baseline` only unseen mail was taken (the first start)."""

    uidvalidity: int
    last_uid: int
    baseline: int = 0


class UidStore(Protocol):
    """Keeps one `Cursor` per mailbox key ("<name>/<folder>"); gateway may give a shared one."""

    async def load(self, key: str) -> Cursor | None: ...

    async def save(self, key: str, cursor: Cursor) -> None: ...


class UidFile:
    """The default `UidStore`: one small JSON file for all mailboxes, replaced atomically and synced."""

    FILENAME = "imap-uids.json"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._lock = asyncio.Lock()

    @classmethod
    def in_dir(cls, state_dir: str | os.PathLike[str]) -> UidFile:
        """The state file inside the directory gateway gives for channel state."""
        return cls(Path(state_dir) / cls.FILENAME)

    async def load(self, key: str) -> Cursor | None:
        async with self._lock:
            data = await asyncio.to_thread(self._read)
        try:
            entry = data[key]
            return Cursor(int(entry["uidvalidity"]), int(entry["last_uid"]), int(entry.get("baseline", 0)))
        except (KeyError, ValueError, TypeError):
            return None

    async def save(self, key: str, cursor: Cursor) -> None:
        async with self._lock:   # read-modify-write of a file shared by every mailbox
            await asyncio.to_thread(self._update, key, cursor)

    def _read(self) -> dict[str, dict[str, int]]:
        try:
            data = json.loads(self._path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _update(self, key: str, cursor: Cursor) -> None:
        data = self._read()
        data[key] = {"uidvalidity": cursor.uidvalidity, "last_uid": cursor.last_uid, "baseline": cursor.baseline}
        self._path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._path.with_name(f".{self._path.name}.{os.getpid()}.tmp")
        with open(temporary, "w") as file:
            json.dump(data, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self._path)
