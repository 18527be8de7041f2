"""Many new rows of one table in as few statements as SQLite allows.

Through the DBAPI's executemany, SQLite runs one step per row, and SQLAlchemy's executemany path
prepares every row's parameters anew (a tenth of the intake writer's CPU). One multi-row VALUES is
one statement per table per batch, its parameters converted with the columns' own bind processors
(each distinct time once, constant defaults once). PostgreSQL keeps SQLAlchemy's executemany
(asyncpg's is already one round trip).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table

from crm_store.prepared import Prepared, driver_sql

# Under SQLite's default bound of host parameters (32766 since 3.32), whatever it was built with.
MAX_PARAMETERS = 32_000
# Rows per statement: keeps each statement's text (and the statement cache's entries) small.
MAX_ROWS = 500

Processor = Callable[[Any], Any] | None
_FRESH_EMPTY = (dict, list)     # default factories whose every value is the same text once converted


@dataclass(frozen=True, slots=True)
class _Plan:
    head: str                                          # INSERT INTO t (given..., computed..., constant...)
    processors: tuple[Processor, ...]                  # of the given columns
    computed: tuple[tuple[Callable[[], Any], Processor], ...]   # defaults made per row (a callable)
    constants: tuple[Any, ...]                         # defaults already converted


_plans: dict[tuple[str, tuple[str, ...]], _Plan | None] = {}
# Core's INSERT of a table, built once: a new one each call costs its cache key again (crm_store.routing_batch).
_core_inserts: dict[Table, Prepared] = {}


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT `rows` (dicts of column values) into `table`; column defaults apply as with Core's insert."""
    # Rows of one shape per statement: Core's executemany would drop keys its first row lacks.
    by_keys: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        by_keys.setdefault(tuple(row), []).append(row)
    for keys, same in by_keys.items():
        plan = _plan(connection, table, keys) if connection.dialect.name == "sqlite" and len(same) > 1 else None
        if plan is None:       # one row, PostgreSQL, or a default SQLAlchemy computes with the statement
            _core_insert(table).run(connection, same)
            continue
        width = len(keys) + len(plan.computed) + len(plan.constants)
        step = max(1, min(MAX_ROWS, MAX_PARAMETERS // width))
        placeholder = "(" + ", ".join("?" * width) + ")"
        for start in range(0, len(same), step):
            chunk = same[start:start + step]
            driver_sql(connection, f"{plan.head} VALUES {', '.join([placeholder] * len(chunk))}",
                       _values(plan, keys, chunk))


def _core_insert(table: Table) -> Prepared:
    statement = _core_inserts.get(table)
    if statement is None:
        statement = _core_inserts[table] = Prepared(table.insert())
    return statement


def _values(plan: _Plan, keys: tuple[str, ...], rows: list[dict[str, Any]]) -> list[Any]:
    values: list[Any] = []
    # A batch stamps most of its rows with one `now`: each distinct time is converted once.
    times: dict[tuple[int, datetime], Any] = {}
    for row in rows:
        for index, key in enumerate(keys):
            value, process = row[key], plan.processors[index]
            if process is None:
                values.append(value)
            elif type(value) is datetime:
                if (index, value) not in times:
                    times[(index, value)] = process(value)
                values.append(times[(index, value)])
            else:
                values.append(process(value))
        for factory, process in plan.computed:
            values.append(factory() if process is None else process(factory()))
        values.extend(plan.constants)
    return values


def _plan(connection: Connection, table: Table, keys: tuple[str, ...]) -> _Plan | None:
    """How rows with these keys are written: made once per table and key set."""
    cache_key = (table.name, keys)
    if cache_key not in _plans:
        _plans[cache_key] = _make_plan(connection, table, keys)
    return _plans[cache_key]


def _make_plan(connection: Connection, table: Table, keys: tuple[str, ...]) -> _Plan | None:
    dialect = connection.dialect

    def processor(name: str) -> Processor:
        return table.columns[name].type.dialect_impl(dialect).bind_processor(dialect)

    computed: list[tuple[str, tuple[Callable[[], Any], Processor]]] = []
    constants: list[tuple[str, Any]] = []
    for column in table.columns:
        if column.key in keys or column.default is None:
            continue
        default: Any = column.default
        if default.is_scalar:
            value = default.arg
        elif default.is_callable and callable(getattr(default.arg, "__wrapped__", None)):
            # SQLAlchemy wraps a no-argument default (dict, list) in fn(context) and keeps it as __wrapped__.
            factory = default.arg.__wrapped__
            if factory not in _FRESH_EMPTY:
                computed.append((column.key, (factory, processor(column.key))))
                continue
            value = factory()
        else:
            return None
        process = processor(column.key)
        constants.append((column.key, value if process is None else process(value)))
    columns = keys + tuple(name for name, _ in computed) + tuple(name for name, _ in constants)
    preparer = dialect.identifier_preparer
    head = (f"INSERT INTO {preparer.format_table(table)} "
            f"({', '.join(preparer.format_column(table.columns[c]) for c in columns)})")
    return _Plan(head, tuple(processor(key) for key in keys), tuple(c for _, c in computed),
                 tuple(value for _, value in constants))
