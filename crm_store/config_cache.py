"""What admins configure and every lead change reads (field definitions, pipeline stages), kept per process.

Closing a lead read the field definitions and the pipeline's stages each time: two or three statements of a
close's ten, for rows an admin changes a few times a year. They are read once here and kept:
- a commit of this process that wrote a watched table (`WATCHED`) empties the cache as it commits: a
  session hook, so every way they change is covered (the admin routes, the seed at start-up, fixtures),
  not only the routes someone remembered to wire;
- a change committed by another process is seen within `TTL_SECONDS`. Until then a lead closed there is
  checked against the rules as they were a few seconds earlier, as it would have been had it been closed
  a few seconds earlier; the admin's own process (the one that answers their console) applies the change
  at once.
A read that began before a clear does not store what it read (`_Cache.generation`).

Kept per engine (weakly): every test's database, and every file a process opens, has its own.
"""
from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Hashable
from itertools import chain
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.orm import ORMExecuteState, Session

from crm_store.models import FieldDefinition, Pipeline, Stage

TTL_SECONDS = 5.0
WATCHED = (FieldDefinition, Pipeline, Stage)
_WROTE = "config_cache_wrote"     # session.info: this transaction wrote a watched table

T = TypeVar("T")


class _Cache:
    def __init__(self) -> None:
        self._lock = threading.Lock()         # the writer's thread reads and fills it too
        self._generation = 0
        self._values: weakref.WeakKeyDictionary[Engine, dict[Hashable, tuple[float, Any]]] = \
            weakref.WeakKeyDictionary()

    def read(self, engine: Engine, key: Hashable, load: Callable[[], T], clock: Callable[[], float]) -> T:
        now = clock()
        with self._lock:
            generation = self._generation
            found = self._values.get(engine, {}).get(key)
        if found is not None and now - found[0] < TTL_SECONDS:
            return found[1]  # type: ignore[no-any-return]
        value = load()
        with self._lock:
            if generation == self._generation:
                self._values.setdefault(engine, {})[key] = (now, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._values.clear()


CACHE = _Cache()


def cached(session: Session, key: Hashable, load: Callable[[], T], clock: Callable[[], float] = time.monotonic) -> T:
    """`load()`'s value for `key` on `session`'s database, read at most once per `TTL_SECONDS` here."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    return CACHE.read(engine, key, load, clock)


def clear() -> None:
    CACHE.clear()


@event.listens_for(Session, "after_flush")
def _noticed_flush(session: Session, _context: Any) -> None:
    # Still the flush's own lists here (new, dirty, deleted as they were before it).
    if any(isinstance(o, WATCHED) for o in chain(session.new, session.dirty, session.deleted)):
        session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _noticed_statement(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete or state.is_insert) and state.bind_mapper is not None \
            and state.bind_mapper.class_ in WATCHED:
        state.session.info[_WROTE] = True


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.info.pop(_WROTE, False):
        CACHE.clear()

