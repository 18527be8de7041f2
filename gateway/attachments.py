"""Files that came with messages: written before the message is committed, served only to who may see the lead."""
from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from channels.types import Attachment

_UNSAFE = re.compile(r"[^\w.\-]+")


class AttachmentStore:
    def __init__(self, root: Path) -> None:
        self._root = root.resolve()

    async def save_all(self, attachments: tuple[Attachment, ...]) -> list[dict[str, Any]]:
        """Write the files; return what the timeline lists (name, type, size, ref)."""
        return [await asyncio.to_thread(self._save, a) for a in attachments]

    def _save(self, attachment: Attachment) -> dict[str, Any]:
        meta: dict[str, Any] = {"filename": attachment.filename, "content_type": attachment.content_type,
                                "size": attachment.size, "ref": None}
        if not attachment.content:
            return meta            # listed but not kept (over the size limit, or not downloadable)
        now = datetime.now(UTC)
        safe = _UNSAFE.sub("_", attachment.filename)[-100:] or "file"
        ref = f"{now:%Y/%m}/{uuid.uuid4().hex}_{safe}"
        path = self._root / ref
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(attachment.content)
        meta["ref"] = ref
        return meta

    def path_of(self, ref: str) -> Path | None:
        """The file for `ref`, never outside the store."""
        path = (self._root / ref).resolve()
        if not path.is_relative_to(self._root) or not path.is_file():
            return None
        return path
