"""A pooled connection belongs to the task that checked it out; a statement from any other task is refused.

asyncpg runs one operation per connection at a time. A session (or an ORM object still attached to an open one,
whose lazy load runs on that session's connection) handed to a second task works while the two tasks happen to
take turns, and under load fails with asyncpg's `cannot perform operation: another operation is in progress`:
a lost write, half a batch, on a busy machine only. With this check the first statement sent from the wrong task
fails every time, on any engine, naming both tasks.

Off unless `CHECK_CONNECTION_OWNER=1` is in the environment when an engine is made (the test suite sets it, and
the servers it starts inherit it): production leaves out the per-statement hook. Closing a session from another
task (SQLAlchemy's shielded close) sends no statement and is not refused; a worker thread (SQLite's writer) has
no task and is not checked.
"""
from __future__ import annotations

import asyncio
import os
import weakref
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection

ENV = "CHECK_CONNECTION_OWNER"      # not SWITCHBOARD_*: those are settings, checked against the schema
_OWNER = "crm_store.owner_task"     # in the pooled connection's info: a weak reference to its task


class SharedConnection(RuntimeError):
    """A statement was sent on a connection another task checked out."""


def enabled() -> bool:
    return os.environ.get(ENV, "") not in ("", "0")


def attach(engine: Engine) -> None:
    """Refuse cross-task statements on `engine` (the sync engine of an AsyncEngine)."""
    event.listen(engine.pool, "checkout", _checked_out)
    event.listen(engine.pool, "checkin", _checked_in)
    event.listen(engine, "before_cursor_execute", _statement)


def _task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:        # no running loop: a worker thread
        return None


def _checked_out(_dbapi_connection: Any, _record: Any, proxy: Any) -> None:
    task = _task()
    proxy.info[_OWNER] = weakref.ref(task) if task is not None else None


def _checked_in(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.info.pop(_OWNER, None)


def _statement(conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
    owner_ref = conn.connection.info.get(_OWNER)
    owner = owner_ref() if owner_ref is not None else None
    task = _task()
    if owner is not None and task is not None and owner is not task:
        raise SharedConnection(f"a connection checked out by task {owner.get_name()!r} was used by task "
                               f"{task.get_name()!r} ({' '.join(statement.split())[:80]}): a session belongs to "
                               "the task that opened it")
