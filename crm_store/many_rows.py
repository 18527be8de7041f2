"""Many new rows of one table in as few statements as SQLite allows.

Through the DBAPI's executemany, SQLite runs one step per row, and the sqlite3 module lets go of
the GIL around each step: in the writer thread every row then waits for the loop thread to hand
the GIL back (up to the switch interval, 5 ms, while requests are being parsed), and a batch of
30 leads spent 2-4x its CPU in wall time. One multi-row VALUES is one step per statement.
PostgreSQL (asyncpg's executemany is already one round trip) keeps SQLAlchemy's executemany.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table

# Under SQLite's default bound of host parameters (32766 since 3.32), whatever it was built with.
MAX_PARAMETERS = 32_000
# Rows per statement: keeps each statement's text (and the statement cache's entries) small.
MAX_ROWS = 500


@dataclass(frozen=True, slots=True)
class _Plan:
    head: str                                        # INSERT INTO t (a, b, ...)
    columns: tuple[str, ...]                         # given keys, then defaulted ones
    processors: tuple[Callable[[Any], Any] | None, ...]
    defaults: tuple[tuple[Any, bool], ...]           # (value or factory, is a factory) per defaulted column


_plans: dict[tuple[str, tuple[str, ...]], _Plan | None] = {}


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT `rows` (dicts of column values) into `table`; column defaults apply as with Core's insert."""
    # Rows of one shape per statement: Core's executemany would drop keys its first row lacks.
    by_keys: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        by_keys.setdefault(tuple(row), []).append(row)
    for keys, same in by_keys.items():
        if connection.dialect.name != "sqlite" or len(same) == 1:
            connection.execute(table.insert(), same)
            continue
        plan = _plan(connection, table, keys)
        if plan is None:       # a default SQLAlchemy computes with the statement: its own executemany
            connection.execute(table.insert(), same)
            continue
        width = len(plan.columns)
        step = max(1, min(MAX_ROWS, MAX_PARAMETERS // width))
        placeholder = "(" + ", ".join("?" * width) + ")"
        # A batch stamps most of its rows with one `now`: each distinct time is converted once.
        times: dict[tuple[int, datetime], Any] = {}
        for start in range(0, len(same), step):
            chunk = same[start:start + step]
            values: list[Any] = []
            for row in chunk:
                given = [row[key] for key in keys]
                given.extend(value() if factory else value for value, factory in plan.defaults)
                for index, (value, process) in enumerate(zip(given, plan.processors, strict=True)):
                    if process is None:
                        values.append(value)
                    elif type(value) is datetime:
                        key = (index, value)
                        if key not in times:
                            times[key] = process(value)
                        values.append(times[key])
                    else:
                        values.append(process(value))
            connection.exec_driver_sql(f"{plan.head} VALUES {', '.join([placeholder] * len(chunk))}",
                                       tuple(values))


def _plan(connection: Connection, table: Table, keys: tuple[str, ...]) -> _Plan | None:
    """How rows with these keys are written: made once per table and key set."""
    cache_key = (table.name, keys)
    if cache_key not in _plans:
        _plans[cache_key] = _make_plan(connection, table, keys)
    return _plans[cache_key]


def _make_plan(connection: Connection, table: Table, keys: tuple[str, ...]) -> _Plan | None:
    dialect = connection.dialect
    defaulted: list[str] = []
    defaults: list[tuple[Any, bool]] = []
    for column in table.columns:
        if column.key in keys or column.default is None:
            continue
        default: Any = column.default
        if default.is_scalar:
            defaults.append((default.arg, False))
        elif default.is_callable and _takes_no_context(default.arg):
            defaults.append((default.arg.__wrapped__, True))
        else:
            return None
        defaulted.append(column.key)
    columns = keys + tuple(defaulted)
    preparer = dialect.identifier_preparer
    head = (f"INSERT INTO {preparer.format_table(table)} "
            f"({', '.join(preparer.format_column(table.columns[c]) for c in columns)})")
    processors = tuple(table.columns[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns)
    return _Plan(head, columns, processors, tuple(defaults))


def _takes_no_context(wrapper: Any) -> bool:
    """SQLAlchemy wraps a no-argument default (dict, list) in fn(context) and keeps it as __wrapped__."""
    return callable(getattr(wrapper, "__wrapped__", None))
