"""Where a server's time went: py-spy's raw samples or cProfile's totals, summarised for a bench's output."""
from __future__ import annotations

import pstats
import shutil
import sys
from collections import Counter
from pathlib import Path


def py_spy() -> str | None:
    """py-spy next to this Python or on PATH (it is not in the lock: `pip install py-spy` to use it)."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def cprofile_summary(path: str, top: int = 25) -> None:
    """cProfile's totals of the server's loop thread: the functions that ran longest (self), and the
    project's own functions by inclusive time."""
    stats = pstats.Stats(path)
    idle = sum(row[2] for key, row in stats.stats.items() if "poll' of" in key[2])   # type: ignore[attr-defined]
    total = sum(row[2] for row in stats.stats.values()) - idle     # type: ignore[attr-defined]
    print(f"profile of the server (cProfile, loop thread): {total:.1f} s busy, {idle:.1f} s waiting in poll")
    rows = sorted(((k, v) for k, v in stats.stats.items() if "poll' of" not in k[2]),   # type: ignore[attr-defined]
                  key=lambda kv: kv[1][2], reverse=True)
    print("  self:")
    for (file, line, name), (_, calls, own, _, _) in rows[:top]:
        print(f"  {100 * own / total:5.1f}%  {calls:8d} calls  {name} ({_short(file)}:{line})")
    print("  inclusive (project):")
    mine = [(k, v) for k, v in stats.stats.items()      # type: ignore[attr-defined]
            if any(m in k[0] for m in ("gateway/", "crm_store/", "channels/", "routing/"))]
    for (file, line, name), (_, calls, _, cumulative, _) in sorted(mine, key=lambda kv: kv[1][3], reverse=True)[:top]:
        print(f"  {100 * cumulative / total:5.1f}%  {calls:8d} calls  {name} ({_short(file)}:{line})")


def _short(file: str) -> str:
    return "/".join(file.split("/")[-2:])


def profile_summary(path: str, top: int = 12) -> None:
    """py-spy's raw samples as: time per thread, the functions that ran (self), and the project's own
    functions and the libraries they spent it in (inclusive)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames, n = stack.split(";"), int(count)
        total += n
        threads[frames[0].rsplit(": ", 1)[-1]] += n
        own[frames[-1]] += n
        for name in {f for f in frames[1:] if any(m in f for m in ("gateway/", "crm_store/", "channels/",
                                                                   "panoramisk/", "routing/", "aiohttp/"))}:
            inclusive[name] += n
    if not total:
        print("profile: no samples (is py-spy installed and allowed to attach?)")
        return
    print(f"profile of the server: {total} samples")
    for name, n in threads.most_common(4):
        print(f"  {100 * n / total:5.1f}%  thread {name}")
    print("  self:")
    for name, n in own.most_common(top):
        print(f"  {100 * n / total:5.1f}%  {name}")
    print("  inclusive (project and its libraries):")
    for name, n in inclusive.most_common(top * 2):
        print(f"  {100 * n / total:5.1f}%  {name}")
