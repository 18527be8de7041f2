"""Reading an uploaded table: CSV (any delimiter, UTF-8 with or without BOM, or Windows-1251) or one XLSX sheet.

Pure: bytes on disk in, a header and rows of text (or dates) out. Nothing is evaluated: XLSX cells are read as
the values the file stores (a formula's cached result, or nothing), never computed.
"""
from __future__ import annotations

import codecs
import csv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException

Cell = str | date | datetime

SNIFF_BYTES = 64 * 1024
XLSX_MAGIC = b"PK\x03\x04"
# Bytes a text table never holds; finding them in the first chunk means binary junk, not a misread encoding.
BINARY_BYTES = frozenset(range(0, 32)) - {9, 10, 13}
MAX_CELL = 10_000
MAX_COLUMNS = 200


class BadFile(ValueError):
    """The file cannot be read as a table; the message says why in one line."""


@dataclass(frozen=True, slots=True)
class Table:
    """What a file holds: its format, the sheets it has, the one read, its header; rows are read lazily."""

    path: Path
    kind: str                    # csv / xlsx
    sheets: tuple[str, ...]
    sheet: str | None
    header: tuple[str, ...]
    encoding: str | None = None
    delimiter: str | None = None

    def rows(self, max_rows: int) -> Iterator[tuple[Cell, ...]]:
        """Every data row after the header (blank rows skipped), each padded to the header's width."""
        source = _csv_rows(self) if self.kind == "csv" else _xlsx_rows(self)
        width = len(self.header)
        next(source, None)            # the header
        count = 0
        for row in source:
            if not any(c != "" for c in row):
                continue
            count += 1
            if count > max_rows:
                raise BadFile(f"the file has more than {max_rows} rows (the [imports] max_rows limit)")
            yield tuple(row[:width]) + ("",) * (width - len(row))


def open_table(path: Path, sheet: str | None = None) -> Table:
    """Look at the file once: which format, which encoding and delimiter, its header. Raises BadFile."""
    with path.open("rb") as f:
        head = f.read(SNIFF_BYTES)
    if not head.strip():
        raise BadFile("the file is empty")
    if head.startswith(XLSX_MAGIC):
        return _open_xlsx(path, sheet)
    if head.startswith((b"\xd0\xcf\x11\xe0", b"%PDF", b"\x1f\x8b", b"\x89PNG", b"Rar!", b"7z")):
        raise BadFile("not a CSV or XLSX file (old .xls and other formats: save it as XLSX or CSV)")
    return _open_csv(path, head)


# -- CSV ----------------------------------------------------------------------------------------------

def _encoding(path: Path, head: bytes) -> str:
    """UTF-8 (BOM or not) when the whole file decodes strictly as UTF-8, else Windows-1251."""
    if any(b in BINARY_BYTES for b in head):
        raise BadFile("the file holds binary data: not a CSV table")
    utf8 = codecs.getincrementaldecoder("utf-8-sig")("strict")
    with path.open("rb") as f:
        try:
            while chunk := f.read(1 << 20):
                utf8.decode(chunk)
            utf8.decode(b"", final=True)
            return "utf-8-sig"
        except UnicodeDecodeError:
            pass
    # cp1251 maps every byte but 0x98; what remains undecodable is not a Russian spreadsheet's export.
    try:
        with path.open("rb") as f:
            cp = codecs.getincrementaldecoder("cp1251")("strict")
            while chunk := f.read(1 << 20):
                cp.decode(chunk)
    except UnicodeDecodeError:
        raise BadFile("the file is neither UTF-8 nor Windows-1251 text") from None
    return "cp1251"


def _open_csv(path: Path, head: bytes) -> Table:
    encoding = _encoding(path, head)
    sample = head.decode(encoding, errors="ignore")
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        delimiter = dialect.delimiter
    except csv.Error:
        first = sample.splitlines()[0] if sample.splitlines() else ""
        delimiter = max(",;\t|", key=first.count) if first else ","
    table = Table(path, "csv", (), None, (), encoding, delimiter)
    header = next(_csv_rows(table), None)
    return Table(path, "csv", (), None, _header(header), encoding, delimiter)


def _csv_rows(table: Table) -> Iterator[list[Cell]]:
    with table.path.open(encoding=table.encoding, newline="") as f:
        reader = csv.reader(f, delimiter=table.delimiter or ",", strict=True)
        try:
            for row in reader:
                if len(row) > MAX_COLUMNS:
                    raise BadFile(f"line {reader.line_num} has more than {MAX_COLUMNS} columns")
                if any(len(c) > MAX_CELL for c in row):
                    raise BadFile(f"line {reader.line_num} has a cell longer than {MAX_CELL} characters "
                                  "(a quote left open?)")
                yield [c.strip() for c in row]
        except csv.Error as exc:
            raise BadFile(f"line {reader.line_num}: broken CSV ({exc})") from None


# -- XLSX ---------------------------------------------------------------------------------------------

def _workbook(path: Path) -> Any:
    try:
        # read_only streams the sheet; data_only gives stored values, never formulas to evaluate.
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise BadFile(f"not a readable XLSX file ({type(exc).__name__}: {str(exc)[:120]})") from None
    except Exception as exc:        # lxml / xml errors of a damaged part
        raise BadFile(f"damaged XLSX file ({type(exc).__name__})") from None


def _open_xlsx(path: Path, sheet: str | None) -> Table:
    book = _workbook(path)
    try:
        sheets = tuple(book.sheetnames)
        chosen = sheet if sheet is not None else (sheets[0] if sheets else None)
        if chosen not in sheets:
            raise BadFile(f"no sheet named {sheet!r}; the file has: {', '.join(sheets)}")
        table = Table(path, "xlsx", sheets, chosen, ())
        header = next(_xlsx_rows(table, book), None)
        return Table(path, "xlsx", sheets, chosen, _header(header))
    finally:
        book.close()


def _xlsx_rows(table: Table, book: Any = None) -> Iterator[list[Cell]]:
    own = book is None
    book = book if book is not None else _workbook(table.path)
    try:
        try:
            for row in book[table.sheet].iter_rows(values_only=True):
                if len(row) > MAX_COLUMNS and any(v is not None for v in row[MAX_COLUMNS:]):
                    raise BadFile(f"a row has more than {MAX_COLUMNS} columns")
                yield [_xlsx_cell(v) for v in row[:MAX_COLUMNS]]
        except BadFile:
            raise
        except Exception as exc:        # a truncated or damaged sheet part shows up while streaming
            raise BadFile(f"damaged XLSX sheet ({type(exc).__name__}: {str(exc)[:120]})") from None
    finally:
        if own:
            book.close()


def _xlsx_cell(value: Any) -> Cell:
    if value is None:
        return ""
    if isinstance(value, (datetime, date)):
        return value
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))        # a phone typed as a number must not become "79161234567.0"
    return str(value).strip()[:MAX_CELL]


def _header(row: list[Cell] | None) -> tuple[str, ...]:
    if not row or not any(str(c).strip() for c in row):
        raise BadFile("the first row (the column names) is empty")
    while row and not str(row[-1]).strip():
        row = row[:-1]
    return tuple(str(c).strip() or f"#{i + 1}" for i, c in enumerate(row))
