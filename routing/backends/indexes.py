"""In-process indexes: pending tasks in queue order, free agents in policy order, deadlines."""
from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable

from routing.policies import INDEXED, rank_key
from routing.types import AgentState, Policy, TaskRecord


class PendingIndex:
    """Pending task ids per (queue, channel), sorted by (score, arrival)."""

    def __init__(self) -> None:
        self._lists: dict[tuple[str, str], list[tuple[float, int, str]]] = {}

    def add(self, rec: TaskRecord) -> None:
        """Insert a pending task."""
        bisect.insort(self._lists.setdefault((rec.task.queue, rec.task.channel), []), (rec.score, rec.seq, rec.id))

    def remove(self, rec: TaskRecord) -> None:
        """Remove a task if present."""
        items = self._lists.get((rec.task.queue, rec.task.channel), [])
        key = (rec.score, rec.seq, rec.id)
        at = bisect.bisect_left(items, key)
        if at < len(items) and items[at] == key:
            del items[at]

    def page(self, key: tuple[str, str], offset: int, limit: int) -> list[str]:
        """Task ids in queue order."""
        return [entry[2] for entry in self._lists.get(key, [])[offset:offset + limit]]


class RankIndex:
    """Free agents per (channel, policy), sorted by the policy's rank key, for the INDEXED policies.

    An order is built the first time it is asked for and kept from then on: a process routes with one or two
    of the three policies and a few of the channels an agent has room on, and keeping all nine orders of
    every agent's change was a third of the in-process engine's work a lead (bench/README.md, the loop)."""

    def __init__(self) -> None:
        self._ranked: dict[tuple[str, Policy], list[tuple[float | str, ...]]] = {}
        self._keys: dict[tuple[str, Policy], dict[str, tuple[float | str, ...]]] = {}
        self._kept: dict[str, tuple[Policy, ...]] = {}      # channel -> the policies whose order is kept

    def update(self, state: AgentState, channel: str, room: bool) -> None:
        """Place the agent (or take it out when it has no room) on every kept policy order of `channel`."""
        for policy in self._kept.get(channel, ()):
            keys = self._keys[(channel, policy)]
            old = keys.get(state.id)
            new = rank_key(state, channel, policy) if room else None
            if old == new:
                continue
            ranked = self._ranked[(channel, policy)]
            if old is not None:
                del ranked[bisect.bisect_left(ranked, old)]
                del keys[state.id]
            if new is not None:
                bisect.insort(ranked, new)
                keys[state.id] = new

    def ids(self, channel: str, policy: Policy, free: Iterable[AgentState]) -> list[tuple[float | str, ...]] | None:
        """Rank keys in order (the agent id is last), or None if the policy is not indexed; `free`: the agents
        with room on `channel` now, read only the first time this order is asked for."""
        if policy not in INDEXED:
            return None
        ranked = self._ranked.get((channel, policy))
        if ranked is None:
            keys = {state.id: rank_key(state, channel, policy) for state in free}
            ranked = self._ranked[(channel, policy)] = sorted(keys.values())
            self._keys[(channel, policy)] = keys
            self._kept[channel] = (*self._kept.get(channel, ()), policy)
        return ranked


class Deadlines:
    """Members with due times; a heap with lazy deletion."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []
        self._due: dict[str, float] = {}

    def set(self, member: str, at: float) -> None:
        """Set (or move) a deadline."""
        self._due[member] = at
        heapq.heappush(self._heap, (at, member))

    def keep_earliest(self, member: str, at: float) -> None:
        """Set a deadline unless an earlier one is set."""
        if member not in self._due or at < self._due[member]:
            self.set(member, at)

    def discard(self, member: str) -> None:
        """Forget a deadline."""
        self._due.pop(member, None)

    def _clean(self) -> None:
        heap = self._heap
        while heap and self._due.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)

    def pop_due(self, now: float) -> list[str]:
        """Members due at `now`, earliest first, removed."""
        out = []
        self._clean()
        while self._heap and self._heap[0][0] <= now:
            _, member = heapq.heappop(self._heap)
            del self._due[member]
            out.append(member)
            self._clean()
        return out

    def next(self) -> float | None:
        """The earliest due time."""
        self._clean()
        return self._heap[0][0] if self._heap else None
