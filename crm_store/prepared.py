"""Statements written once in SQLAlchemy Core and, on SQLite, run on the driver's own connection.

The SQLite writer thread runs a few statements per lead for every PATCH, routing outcome and intake batch,
and what it paid for each was SQLAlchemy's execution around it (the cache key, the execution context, the
parameters' and result's set-up: 14-60 us a statement) where `sqlite3.Connection.execute` with its own
statement cache costs ~2 us. A `Prepared` statement is compiled by SQLAlchemy once per shape of its
parameters (the SQL text, the positional order, the columns' bind and result processors), and on the
synchronous SQLite driver its parameters are converted by those processors (datetimes in SQLAlchemy's
DATETIME text, JSON dumped as the JSON type does) and sent straight to the driver; its rows come back
converted the same way, as named tuples. Every other driver (asyncpg, aiosqlite) runs the same statement
through `Connection.execute` as before: one definition for both engines. Their IN lists take a power of two of
places there too (the last value repeated): SQLAlchemy writes a statement per length of a list, and asyncpg
prepares each statement a connection has not kept (SQLAlchemy keeps 100 a connection) with a round trip of its own:
the card and intake reads of a group commit, whose lists are as long as the batch, made 400-500 statements and
~1,400 prepares a server in bench/scale_out.py's 2,000 leads.

The statements still reach the engine's `before_cursor_execute` listeners (the statement counter of
`crm_store.statements` among them); a driver error is raised as SQLAlchemy's
(`IntegrityError` and its kin) as `Connection.execute` would raise it.
"""
from __future__ import annotations

import sqlite3
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import ClauseElement

Params = Mapping[str, Any]
Processor = Callable[[Any], Any]

# The driver whose connection the statements go to directly: the SQLite writer thread's.
RAW_DRIVER = "pysqlite"
# IN lists' lengths whose SQL text is kept per statement.
MAX_TEXTS = 64


@dataclass(frozen=True, slots=True)
class _Plan:
    """The statement compiled once for one set of parameter keys, as the driver takes it."""

    sql: str                                                # with a marker for each IN list
    slots: tuple[tuple[str, bool, Processor | None], ...]   # each `?` (or IN list): name, expanding, processor
    constants: dict[str, Any]                               # the statement's own values (literals in it)
    computed: tuple[tuple[str, Callable[[], Any]], ...]     # Python-side column defaults, made per row
    expanding: tuple[str, ...]                              # the IN lists' names
    texts: dict[tuple[int, ...], str]                       # the SQL by the IN lists' lengths
    row: type | None                                        # a SELECT's rows: a named tuple of its columns
    results: tuple[tuple[int, Processor], ...]              # result processors, by position
    processors: tuple[tuple[int, Processor], ...]           # the slots' bind processors, by position

    def text(self, params: Params) -> str | None:
        """The SQL for these IN lists, or None for an empty one (SQLAlchemy writes an empty set its own way).

        Each list takes a power of two of places (`values` repeats its last element in the rest): sqlite3 keeps
        128 prepared statements, and a text per length of every list overflowed that cache, where preparing a
        card's read anew costs SQLite ~60 us, eight times running it."""
        if not self.expanding:
            return self.sql
        lengths = tuple(_places(len(params[name])) for name in self.expanding)
        text = self.texts.get(lengths)
        if text is None:
            if not all(lengths):
                return None
            if len(self.texts) >= MAX_TEXTS:
                self.texts.clear()
            text = self.sql
            for name, length in zip(self.expanding, lengths):
                text = text.replace(f"__[POSTCOMPILE_{name}]", ", ".join("?" * length))
            self.texts[lengths] = text
        return text

    def values(self, params: Params) -> list[Any]:
        merged = {**self.constants, **params} if self.constants else params
        if self.computed:
            # Columns the first row of an executemany lacked get their default in every row, as Core's
            # executemany does (it compiles the statement for the first row's keys).
            merged = dict(merged)
            for name, make in self.computed:
                merged[name] = make()
        if not self.expanding:
            values = [merged[name] for name, _, _ in self.slots]
            for index, process in self.processors:
                values[index] = process(values[index])
            return values
        values = []
        for name, expand, process in self.slots:
            value = merged[name]
            if expand:
                if (missing := _places(len(value)) - len(value)) > 0:
                    value = [*value, *[value[-1]] * missing]        # the same set: `x IN (a, b, b)`
                values.extend(value if process is None else map(process, value))
            else:
                values.append(value if process is None else process(value))
        return values

    def rows(self, raw: Sequence[tuple[Any, ...]]) -> list[Any]:
        assert self.row is not None
        make = self.row._make       # type: ignore[attr-defined]
        if not self.results:
            return [make(row) for row in raw]
        out = []
        for row in raw:
            values = list(row)
            for index, process in self.results:
                values[index] = process(values[index])
            out.append(make(values))
        return out


class Prepared:
    """A Core statement (a SELECT, INSERT or UPDATE with bound parameters) run as cheaply as the driver allows."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._dml = isinstance(statement, UpdateBase)
        self._plans: dict[frozenset[str] | None, _Plan | None] = {}
        self._expanding: tuple[str, ...] | None = None      # the IN lists' names, known at the first padding

    def fetch(self, connection: Connection, params: Params | None = None) -> list[Any]:
        """The rows of a SELECT: named tuples on SQLite's driver, SQLAlchemy's Rows elsewhere."""
        params = params or {}
        if connection.dialect.driver == RAW_DRIVER:
            plan = self._plan(connection.dialect, params)
            sql = plan.text(params) if plan is not None else None
            if sql is not None:
                return plan.rows(self._run(connection, sql, plan.values(params), many=False).fetchall())
        padded = self._padded(params, connection.dialect)
        return connection.execute(self.statement, padded).all()     # type: ignore[arg-type]

    def run(self, connection: Connection, params: Params | Sequence[Params]) -> None:
        """Execute an INSERT or UPDATE, once or (a list of parameter sets) as one executemany."""
        if isinstance(params, Mapping):
            params = [params]
        if not params:
            return
        if connection.dialect.driver == RAW_DRIVER:
            plan = self._plan(connection.dialect, params[0])
            sql = plan.text(params[0]) if plan is not None else None
            if sql is not None and not (plan.expanding and len(params) > 1):
                if len(params) == 1:
                    self._run(connection, sql, plan.values(params[0]), many=False)
                else:
                    self._run(connection, sql, [plan.values(row) for row in params], many=True)
                return
        connection.execute(self.statement, params if len(params) > 1 else params[0])   # type: ignore[arg-type]

    def _padded(self, params: Params, dialect: Dialect) -> Params:
        """`params` with each IN list filled up to a power of two with its last value (`x IN (a, b, b)`)."""
        if self._expanding is None:
            compiled: Any = self.statement.compile(dialect=dialect)
            self._expanding = tuple({param.key for param in compiled.bind_names if param.expanding})
        if not self._expanding:
            return params
        padded = dict(params)
        for name in self._expanding:
            value = padded.get(name)
            if value and (missing := _places(len(value)) - len(value)) > 0:
                values = list(value)
                padded[name] = [*values, *[values[-1]] * missing]
        return padded

    def _run(self, connection: Connection, sql: str, values: list[Any], many: bool) -> sqlite3.Cursor:
        return _run_raw(connection, sql, values, many)

    def _plan(self, dialect: Dialect, params: Params) -> _Plan | None:
        """How the driver takes it for these keys; None when only SQLAlchemy's execution can run it."""
        keys = frozenset(params) if self._dml else None     # an INSERT's or UPDATE's columns are the keys given
        if keys in self._plans:
            return self._plans[keys]
        plan = self._plans[keys] = _make_plan(self.statement, dialect, keys)
        return plan


def _places(length: int) -> int:
    """The places an IN list of `length` takes: the next power of two."""
    return 1 << (length - 1).bit_length() if length else 0


def _run_raw(connection: Connection, sql: str, values: Sequence[Any], many: bool = False) -> sqlite3.Cursor:
    if connection._has_events or connection.engine._has_events:
        # What listens for statements (crm_store.statements' counter, the tests' watchers) hears these too, as
        # SQLAlchemy would tell it (no cursor exists yet: it gets None).
        for listener in connection.dispatch.before_cursor_execute:
            listener(connection, None, sql, values, None, many)
    raw: sqlite3.Connection = connection.connection.driver_connection      # type: ignore[assignment]
    try:
        return raw.executemany(sql, values) if many else raw.execute(sql, values)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, values, exc, sqlite3.Error, dialect=connection.dialect, ismulti=many) from exc


def _make_plan(statement: ClauseElement, dialect: Dialect, keys: frozenset[str] | None) -> _Plan | None:
    """None for what SQLAlchemy's execution context must do itself: values rendered into the SQL at execution,
    IN lists of tuples, column defaults that take the context."""
    compiled: Any = statement.compile(dialect=dialect, column_keys=list(keys) if keys is not None else None)
    if compiled.literal_execute_params:
        return None
    defaults = [(column.key, column.default) for column in compiled.insert_prefetch] + \
        [(column.key, column.onupdate) for column in compiled.update_prefetch]
    computed = tuple((name, make) for name, default in defaults if (make := _default_maker(default)) is not None)
    expanding = {name for param, name in compiled.bind_names.items() if param.expanding}
    processors = compiled._bind_processors
    if len(computed) < len(defaults) or any(not callable(processors.get(name, len)) for name in expanding):
        return None
    names = tuple(compiled.positiontup or ())
    slots = tuple((name, name in expanding, processors.get(name)) for name in names)
    own = (keys or set()) | expanding | {name for name, _ in computed}
    constants = {name: param.effective_value for name, param in compiled.binds.items()
                 if name not in own and name in names and not param.required}
    row: type | None = None
    results: tuple[tuple[int, Processor], ...] = ()
    if keys is None:
        columns = compiled._result_columns
        row = namedtuple("PreparedRow", [c[0] for c in columns], rename=True)      # type: ignore[misc]
        results = tuple((index, process) for index, c in enumerate(columns)
                        if (process := c[3]._cached_result_processor(dialect, None)) is not None)
    return _Plan(compiled.string, slots, constants, computed, tuple(dict.fromkeys(n for n in names if n in expanding)),
                 {}, row, results, tuple((index, process) for index, (_, _, process) in enumerate(slots)
                                         if process is not None))


def _default_maker(default: Any) -> Callable[[], Any] | None:
    """A column's Python-side default as a function of nothing (SQLAlchemy keeps a no-argument one wrapped), or
    None for one that takes SQLAlchemy's execution context."""
    if default is not None and default.is_scalar:
        value = default.arg
        return lambda: value
    wrapped = getattr(getattr(default, "arg", None), "__wrapped__", None)
    if default is not None and default.is_callable and callable(wrapped):
        return wrapped      # type: ignore[no-any-return]
    return None


def driver_sql(connection: Connection, sql: str, values: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """`Connection.exec_driver_sql` (SQL written for the driver, positional values already converted) and its
    rows as plain tuples: on SQLite's driver itself, counted as the statements above."""
    if connection.dialect.driver != RAW_DRIVER:
        result = connection.exec_driver_sql(sql, tuple(values))
        return [tuple(row) for row in result] if result.returns_rows else []
    return _run_raw(connection, sql, values).fetchall()
