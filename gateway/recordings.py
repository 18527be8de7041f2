"""Call recordings on disk: the PBX names a file, we look for that name in our folder and nowhere else.

The name comes from the PBX (a MixMonitor variable), which is to say from outside: it is reduced to
its last component (either slash), and the file served is that name inside the configured folder
after every link is resolved. "../../etc/passwd" is looked for as "passwd" in the folder.
"""
from __future__ import annotations

import mimetypes
from pathlib import Path

AUDIO_TYPES = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".oga": "audio/ogg",
               ".opus": "audio/ogg", ".gsm": "audio/gsm", ".flac": "audio/flac", ".m4a": "audio/mp4"}


def basename(pbx_name: str) -> str | None:
    name = pbx_name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if name in ("", ".", "..") or "\x00" in name or len(name) > 255:
        return None
    return name


def find(folder: str | None, pbx_name: str) -> Path | None:
    """The recording's file inside `folder`, or None (no folder, an unusable name, absent, or a link leading out)."""
    name = basename(pbx_name)
    if folder is None or name is None:
        return None
    root = Path(folder).resolve()
    path = (root / name).resolve()
    if path.parent != root or not path.is_file():
        return None
    return path


def content_type(path: Path) -> str:
    return AUDIO_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
