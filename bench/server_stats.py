"""What a bench reads of a server process it started: CPU by process and thread, memory (Linux /proc), and the
percentiles it prints."""
from __future__ import annotations

import os
import statistics
from pathlib import Path


def cpu_seconds(pid: int, thread: str | None = None) -> float:
    """User + system CPU a process (or one of its threads) has used (Linux /proc), to tell a slow server from
    a slow machine."""
    stat = Path(f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat")
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int) -> dict[int, float]:
    """User + system CPU of each of a process's threads (Linux /proc), by thread id."""
    used: dict[int, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            used[int(task.name)] = cpu_seconds(pid, task.name)
        except (FileNotFoundError, ProcessLookupError):    # ended meanwhile
            continue
    return used


def thread_split(pid: int, before: dict[int, float], calls: int) -> str:
    """A phase's server CPU per call by thread: the loop thread (the pops are written there), the busiest
    other (under load, the SQLite writer) and the rest (card reads, aiosqlite, the default executor)."""
    after = thread_cpu(pid)
    spent = {tid: after[tid] - before.get(tid, 0.0) for tid in after}
    loop = spent.pop(pid, 0.0)
    busiest = max(spent.values(), default=0.0)
    rest = sum(spent.values()) - busiest
    per = 1000 / max(1, calls)
    return f"server CPU per call: loop thread {loop * per:.1f} ms, busiest other {busiest * per:.1f} ms, rest {rest * per:.1f} ms"


def rss_mb(pid: int) -> float:
    """The process's resident memory (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], q: float) -> float:
    if len(values) < 2:
        return (values or [float("nan")])[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]
