"""Statements sent to the database, counted for the benchmarks (bench/loop.py prints them per lead).

Off unless COUNT_SQL_STATEMENTS=1 is in the environment when the engines are made: an
event listener on every cursor execution costs a little on each statement, so production leaves it out.
An executemany counts once: it is one statement, one round trip.
"""
from __future__ import annotations

import os
from collections import Counter
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Engine, event

ENV = "COUNT_SQL_STATEMENTS"   # not SWITCHBOARD_*: those are settings, checked against the schema
# What the statements are for (the intake's batch, routing's outcomes, an HTTP route), set by whoever runs them.
STEP: ContextVar[str] = ContextVar("sql_step", default="other")


class StatementCounter:
    """Totals over every engine of this process (several engines share one file or server)."""

    def __init__(self) -> None:
        self.count = 0
        self.by_step: Counter[str] = Counter()
        self.enabled = os.environ.get(ENV, "") not in ("", "0")

    def _count(self, *_: Any) -> None:
        self.count += 1
        self.by_step[STEP.get()] += 1

    def attach(self, engine: Engine) -> None:
        """Count `engine`'s statements, when counting is on."""
        if self.enabled:
            event.listen(engine, "before_cursor_execute", self._count)


COUNTER = StatementCounter()
