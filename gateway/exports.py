"""Lists and reports as downloads: CSV or XLSX, streamed chunk by chunk so a million rows never sit in memory.

A cell a spreadsheet would read as a formula (`=`, `+`, `-`, `@`, a tab or a carriage return first) gets a
leading apostrophe: a client's name must never run as `=HYPERLINK(...)` on a manager's machine.
"""
from __future__ import annotations

import asyncio
import csv
import io
import os
import tempfile
from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

import xlsxwriter
from aiohttp import web

from gateway.errors import refuse

FORMATS = ("csv", "xlsx")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK_BYTES = 64 * 1024
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

Rows = AsyncIterator[Sequence[Sequence[Any]]]      # chunks of rows, as the store pages them


def wanted_format(request: web.Request) -> str | None:
    """`?format=csv|xlsx`: None for the JSON answer; 422 naming `format` for anything else."""
    fmt = request.query.get("format")
    if fmt in (None, "", "json"):
        return None
    if fmt not in FORMATS:
        refuse(422, "invalid", "format is csv or xlsx (or absent for JSON)", "format")
    return fmt


def safe_cell(value: Any) -> Any:
    """A value as a cell: text that would start a formula is neutralised; dates as ISO text."""
    if value is None:
        return ""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


async def send_table(request: web.Request, name: str, fmt: str, columns: Sequence[str], rows: Rows) -> web.StreamResponse:
    """Stream `rows` (chunks) as `name`.csv or `name`.xlsx."""
    if fmt == "csv":
        return await _send_csv(request, name, columns, rows)
    return await _send_xlsx(request, name, columns, rows)


def _disposition(filename: str) -> str:
    return f"attachment; filename=\"{filename.encode('ascii', 'replace').decode()}\"; filename*=UTF-8''{quote(filename)}"


async def _send_csv(request: web.Request, name: str, columns: Sequence[str], rows: Rows) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/csv; charset=utf-8",
                                           "Content-Disposition": _disposition(f"{name}.csv"),
                                           "X-Content-Type-Options": "nosniff"})
    await response.prepare(request)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")        # the byte-order mark: spreadsheet programs then read UTF-8 (Cyrillic) right
    writer.writerow([safe_cell(c) for c in columns])
    async for chunk in rows:
        writer.writerows([safe_cell(v) for v in row] for row in chunk)
        if buffer.tell() >= CHUNK_BYTES:
            await response.write(buffer.getvalue().encode())
            buffer.seek(0)
            buffer.truncate()
    await response.write(buffer.getvalue().encode())
    await response.write_eof()
    return response


class _Sheet:
    """An XlsxWriter workbook in constant-memory mode: each row goes to a temporary file as it is written."""

    def __init__(self, path: str, columns: Sequence[str]) -> None:
        self.book = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_formulas": False,
                                               "strings_to_urls": False})
        self.sheet = self.book.add_worksheet("data")
        self.row = 0
        self.write([[*columns]])

    def write(self, chunk: Sequence[Sequence[Any]]) -> None:
        for values in chunk:
            for col, value in enumerate(values):
                cell = safe_cell(value)
                if isinstance(cell, str):
                    self.sheet.write_string(self.row, col, cell)
                else:
                    self.sheet.write_number(self.row, col, cell)
            self.row += 1


async def _send_xlsx(request: web.Request, name: str, columns: Sequence[str], rows: Rows) -> web.StreamResponse:
    handle, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(handle)
    try:
        sheet = await asyncio.to_thread(_Sheet, path, columns)
        async for chunk in rows:
            await asyncio.to_thread(sheet.write, chunk)
        await asyncio.to_thread(sheet.book.close)
        response = web.StreamResponse(headers={"Content-Type": XLSX_TYPE,
                                               "Content-Disposition": _disposition(f"{name}.xlsx"),
                                               "Content-Length": str(os.path.getsize(path))})
        await response.prepare(request)
        with open(path, "rb") as file:
            while block := await asyncio.to_thread(file.read, CHUNK_BYTES):
                await response.write(block)
        await response.write_eof()
        return response
    finally:
        os.unlink(path)


async def chunks_of(items: Sequence[Sequence[Any]], size: int = 1000) -> Rows:
    """Rows already at hand (a report of one row per manager) as chunks."""
    for at in range(0, len(items), size):
        yield items[at:at + size]
