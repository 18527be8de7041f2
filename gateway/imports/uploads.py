"""An uploaded file, looked at once before anything is written: readable to its end, within the limits, previewed."""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.imports.columns import RowRules, guess, preview, to_row
from gateway.imports.files import Cell, Table, open_table

PREVIEW_ROWS = 10


@dataclass(frozen=True, slots=True)
class Inspected:
    table: Table
    rows: int
    first: tuple[tuple[Cell, ...], ...]


def inspect(path: Path, sheet: str | None, max_rows: int) -> Inspected:
    """Read the whole file once (raises BadFile on a broken quote, a damaged sheet, too many rows)."""
    table = open_table(path, sheet)
    first: list[tuple[Cell, ...]] = []
    count = 0
    for row in table.rows(max_rows):
        count += 1
        if len(first) < PREVIEW_ROWS:
            first.append(row)
    return Inspected(table, count, tuple(first))


def first_rows(path: Path, sheet: str | None, max_rows: int) -> list[tuple[Cell, ...]]:
    return list(itertools.islice(open_table(path, sheet).rows(max_rows), PREVIEW_ROWS))


def previewed(first: list[tuple[Cell, ...]] | tuple[tuple[Cell, ...], ...], mapping: dict[int, str],
              rules: RowRules) -> list[dict[str, Any]]:
    return [preview(to_row(number, cells, mapping, rules), rules.split_name)
            for number, cells in enumerate(first, start=1)]


def named_mapping(header: tuple[str, ...], mapping: dict[int, str]) -> dict[str, str]:
    return {header[i]: field for i, field in sorted(mapping.items())}


__all__ = ["Inspected", "first_rows", "guess", "inspect", "named_mapping", "previewed"]
