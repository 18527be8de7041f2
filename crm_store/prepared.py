"""Statements written once in SQLAlchemy Core and, on SQLite, run on the driver's own connection.

The SQLite writer thread runs a few statements per lead for every PATCH, routing outcome and intake batch,
and what it paid for each was SQLAlchemy's execution around it (the cache key, the execution context, the
parameters' and result's set-up: 14-60 us a statement) where `sqlite3.Connection.execute` with its own
statement cache costs ~2 us. A `Prepared` statement is compiled by SQLAlchemy once per shape of its
parameters (the SQL text, the positional order, the columns' bind and result processors), and on the
synchronous SQLite driver its parameters are converted by those processors (datetimes in SQLAlchemy's
DATETIME text, JSON dumped as the JSON type does) and sent straight to the driver; its rows come back
converted the same way, as named tuples. Every other driver (asyncpg, aiosqlite) runs the same statement
through `Connection.execute` as before: one definition for both engines.

The statements still count (`crm_store.statements`); a driver error is raised as SQLAlchemy's
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

from crm_store.statements import COUNTER

Params = Mapping[str, Any]
Processor = Callable[[Any], Any]

# The driver whose connection the statements go to directly: the SQLite writer thread's.
RAW_DRIVER = "pysqlite"
# Plans kept per statement (a shape of parameters each: which keys, how long each IN list is).
MAX_PLANS = 256


@dataclass(frozen=True, slots=True)
class _Plan:
    """One statement for one shape of parameters, as the driver takes it."""

    sql: str
    names: tuple[str, ...]                                  # the parameters, in the order of the `?`s
    constants: dict[str, Any]                               # the statement's own values (literals in it)
    computed: tuple[tuple[str, Callable[[], Any]], ...]     # Python-side column defaults, made per row
    expansions: tuple[tuple[str, tuple[str, ...]], ...]     # an IN list's name -> one name per element
    processors: tuple[tuple[int, Processor], ...]           # bind processors, by position
    row: type | None                                        # a SELECT's rows: a named tuple of its columns
    results: tuple[tuple[int, Processor], ...]              # result processors, by position

    def values(self, params: Params) -> list[Any]:
        merged = {**self.constants, **params} if self.constants else dict(params)
        for name, make in self.computed:
            if name not in merged:
                merged[name] = make()
        for name, expanded in self.expansions:
            merged.update(zip(expanded, merged[name], strict=True))
        values = [merged[name] for name in self.names]
        for index, process in self.processors:
            values[index] = process(values[index])
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
        self._plans: dict[Any, _Plan] = {}
        self._expanding: tuple[str, ...] | None = None       # the IN lists' parameter names, once compiled

    def fetch(self, connection: Connection, params: Params | None = None) -> list[Any]:
        """The rows of a SELECT: named tuples on SQLite's driver, SQLAlchemy's Rows elsewhere."""
        params = params or {}
        if connection.dialect.driver != RAW_DRIVER:
            return connection.execute(self.statement, params).all()     # type: ignore[arg-type]
        plan = self._plan(connection.dialect, params)
        return plan.rows(self._run(connection, plan, plan.values(params), many=False).fetchall())

    def run(self, connection: Connection, params: Params | Sequence[Params]) -> None:
        """Execute an INSERT or UPDATE, once or (a list of parameter sets) as one executemany."""
        if connection.dialect.driver != RAW_DRIVER:
            connection.execute(self.statement, params)      # type: ignore[arg-type]
            return
        if isinstance(params, Mapping):
            plan = self._plan(connection.dialect, params)
            self._run(connection, plan, plan.values(params), many=False)
        elif len(params) == 1:
            plan = self._plan(connection.dialect, params[0])
            self._run(connection, plan, plan.values(params[0]), many=False)
        elif params:
            plan = self._plan(connection.dialect, params[0])
            self._run(connection, plan, [plan.values(row) for row in params], many=True)

    def _run(self, connection: Connection, plan: _Plan, values: list[Any], many: bool) -> sqlite3.Cursor:
        if COUNTER.enabled:
            COUNTER.count_one()
        raw: sqlite3.Connection = connection.connection.driver_connection      # type: ignore[assignment]
        try:
            return raw.executemany(plan.sql, values) if many else raw.execute(plan.sql, values)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(plan.sql, values, exc, sqlite3.Error,
                                      dialect=connection.dialect, ismulti=many) from exc

    def _plan(self, dialect: Dialect, params: Params) -> _Plan:
        if self._expanding is None:
            self._expanding = _expanding_names(self.statement, dialect)
        key: Any = tuple(len(params[name]) for name in self._expanding) if self._expanding else ()
        if self._dml:
            key = (frozenset(params), key)
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) >= MAX_PLANS:
                self._plans.clear()
            plan = self._plans[key] = _make_plan(self.statement, dialect, params, self._dml)
        return plan


def _expanding_names(statement: ClauseElement, dialect: Dialect) -> tuple[str, ...]:
    compiled = statement.compile(dialect=dialect)
    return tuple(name for param, name in compiled.bind_names.items() if param.expanding)


def _make_plan(statement: ClauseElement, dialect: Dialect, params: Params, dml: bool) -> _Plan:
    compiled: Any = statement.compile(dialect=dialect, column_keys=list(params) if dml else None)
    state = compiled.construct_expanded_state(params, escape_names=False)
    names = tuple(state.positiontup or ())
    expansions = tuple((name, tuple(expanded)) for name, expanded in state.parameter_expansion.items())
    expanded = {e for _, group in expansions for e in group}
    given = set(params)
    computed: list[tuple[str, Callable[[], Any]]] = []
    for column in (*compiled.insert_prefetch, *compiled.update_prefetch):
        default = column.default if column in compiled.insert_prefetch else column.onupdate
        computed.append((compiled.bind_names.get(column, column.key), _default_maker(default)))
    computed_names = {name for name, _ in computed}
    constants = {name: value for name, value in state.parameters.items()
                 if name not in given and name not in expanded and name not in computed_names}
    bind_processors = compiled._bind_processors
    processors = tuple((index, process) for index, name in enumerate(names)
                       if (process := state.processors.get(name) or bind_processors.get(name)) is not None)
    row: type | None = None
    results: tuple[tuple[int, Processor], ...] = ()
    if not dml:
        columns = compiled._result_columns
        row = namedtuple("PreparedRow", [c[0] for c in columns], rename=True)      # type: ignore[misc]
        results = tuple((index, process) for index, c in enumerate(columns)
                        if (process := c[3]._cached_result_processor(dialect, None)) is not None)
    return _Plan(state.statement, names, constants, tuple(computed), expansions, processors, row, results)


def _default_maker(default: Any) -> Callable[[], Any]:
    """A column's Python-side default as a function of nothing (SQLAlchemy keeps a no-argument one wrapped)."""
    if default is None:
        raise ValueError("a column default the statement needs is not Python's")
    if default.is_scalar:
        value = default.arg
        return lambda: value
    wrapped = getattr(default.arg, "__wrapped__", None)
    if default.is_callable and callable(wrapped):
        return wrapped      # type: ignore[no-any-return]
    raise ValueError(f"column default {default!r} needs SQLAlchemy's execution context")
