"""Store work written for an AsyncSession, run by the one writer on its synchronous session.

The store's functions take an AsyncSession, but every await in them is a round trip to the database and
nothing else. On the writer's synchronous session those round trips complete at once, so the coroutine
runs to its end in one step, in the writer's thread, inside the group commit, without an event-loop
hop per statement (which is what made a PATCH hold SQLite's write lock for tens of ms under load).
"""
from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")
AsyncWork = Callable[[Any], Coroutine[Any, Any, T]]


class WriterSession:
    """The AsyncSession methods the store's functions use, answered by a synchronous Session."""

    def __init__(self, session: Session) -> None:
        self.sync_session = session
        self.info = session.info

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        return self.sync_session.get(*args, **kwargs)

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        return self.sync_session.scalar(*args, **kwargs)

    async def scalars(self, *args: Any, **kwargs: Any) -> Any:
        return self.sync_session.scalars(*args, **kwargs)

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self.sync_session.execute(*args, **kwargs)

    async def flush(self, *args: Any, **kwargs: Any) -> None:
        self.sync_session.flush(*args, **kwargs)

    async def run_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return fn(self.sync_session, *args, **kwargs)

    async def delete(self, instance: Any) -> None:
        self.sync_session.delete(instance)

    def add(self, instance: Any) -> None:
        self.sync_session.add(instance)

    def add_all(self, instances: Any) -> None:
        self.sync_session.add_all(instances)

    @property
    def bind(self) -> Any:
        return self.sync_session.bind


class AwaitedOutsideTheStore(RuntimeError):
    """The work awaited something that is not a store call: it cannot run inside the writer."""


def run_to_end(session: Session, work: AsyncWork[T]) -> T:
    """Run `work(session)` (written for an AsyncSession) to its end on the synchronous `session`."""
    coroutine = work(WriterSession(session))
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise AwaitedOutsideTheStore("store work suspended on something other than the database")
