"""Writes of one kind that arrive together go together: one job in the intake's group commit for all of them.

Every isolated job costs its savepoint and its own ORM flush, which at 100 calls/s was most of the writer's
work for the voice (an answer, a grant and a record per call). Items that arrive while a group is on its way
wait for the next group; under light load a group is one item and waits for nothing.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

from crm_store.ingest import Ingestor, StoreUnavailable

I = TypeVar("I")
R = TypeVar("R")


class GroupedWrites(Generic[I, R]):
    """`write(session, items)` returns one result per item; a group the store refuses is written again item by
    item, so that only the refused item's caller gets the error."""

    def __init__(self, ingestor: Ingestor, write: Callable[[Session, Sequence[I]], Sequence[R]], step: str) -> None:
        self._ingestor = ingestor
        self._write_group = write
        self._step = step
        self._pending: list[tuple[I, asyncio.Future[R]]] = []
        self._worker: asyncio.Task[None] | None = None
        self.groups = 0       # how many jobs the items took (tests)

    async def write(self, item: I) -> R:
        """Returns once the item is committed (with whatever else was waiting)."""
        done: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, done))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await done

    async def _drain(self) -> None:
        while self._pending:
            group, self._pending = self._pending, []
            try:
                await self._write(group)
            except asyncio.CancelledError:
                # Stopped mid-way (shutdown): nobody may be left awaiting an answer that will never come.
                for _, done in group + self._pending:
                    done.cancel()
                self._pending = []
                raise
            except Exception as exc:
                if isinstance(exc, StoreUnavailable) or len(group) == 1:
                    _fail(group, exc)
                    continue
                for one in group:      # one item the store refuses: each alone, so that only its caller fails
                    try:
                        await self._write([one])
                    except Exception as alone:
                        _fail([one], alone)

    async def _write(self, group: list[tuple[I, asyncio.Future[R]]]) -> None:
        items = [item for item, _ in group]
        self.groups += 1
        results = await self._ingestor.write_in_batch(lambda session: self._write_group(session, items), self._step)
        for (_, done), result in zip(group, results, strict=True):
            if not done.done():
                done.set_result(result)


def _fail(group: Sequence[tuple[I, asyncio.Future[R]]], exc: Exception) -> None:
    for _, done in group:
        if not done.done():
            done.set_exception(exc)
