"""`switchboard import FILE --map …`: the same import as the console's, in this process, with a progress line."""
from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
from pathlib import Path
from typing import Any, TextIO

from crm_store.imports import jobs
from crm_store.imports.types import JobState, OnMatch
from crm_store.ingest import Ingestor, utcnow
from crm_store.session import create_engine, session_factory
from gateway.imports.columns import BadMapping, checked_mapping, guess
from gateway.imports.files import BadFile
from gateway.imports.runner import ImportRunner, Progress, RunChoices
from gateway.imports.uploads import inspect
from gateway.settings import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    command = sub.add_parser("import", help="import clients (and leads) from a CSV or XLSX file")
    command.add_argument("file", type=Path)
    command.add_argument("--map", default="", help='"Телефон=phone,ФИО=name" (default: guessed from the headers)')
    command.add_argument("--sheet", help="the XLSX sheet (default: the first)")
    command.add_argument("--dry-run", action="store_true", help="count what would happen, write nothing")
    command.add_argument("--on-duplicate", choices=[m.value for m in OnMatch], default=OnMatch.FILL.value,
                         help="a row of a known client: fill empty fields, overwrite them, or skip the row")
    command.add_argument("--leads", action="store_true", help="each row is also a lead (deal)")
    command.add_argument("--split-name", action="store_true")


def _mapping(text: str, header: tuple[str, ...]) -> dict[int, str]:
    if not text.strip():
        return checked_mapping({header[i]: f for i, f in guess(header).items()}, header)
    pairs = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        column, sep, field = part.rpartition("=")
        if not sep:
            raise BadMapping(f"--map: expected COLUMN=field, got {part!r}", "map")
        pairs[column.strip()] = field.strip()
    return checked_mapping(pairs, header)


def _owner() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname()}


def _gone(options: dict[str, Any]) -> bool:
    """The process that ran a command-line import has ended (only known for a process of this machine)."""
    if options.get("host") != socket.gethostname() or not isinstance(options.get("pid"), int):
        return False
    try:
        os.kill(options["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:           # alive, another user's
        return False
    return False


async def _resumable(session: Any, path: Path, sheet: str | None, choices: RunChoices) -> Any:
    """A run of the same file with the same choices whose process died (killed, the machine restarted) goes on
    from its last committed batch instead of reading the whole file again; one with other choices is closed."""
    wanted = choices.as_options()
    for job in await jobs.left_running(session, str(path), sheet):
        if not _gone(job.options or {}):
            continue
        if {k: (job.options or {}).get(k) for k in wanted} == wanted:
            return job
        await jobs.finish(session, job.id, JobState.FAILED, utcnow(), "its process stopped; the file was run again "
                          "with other choices")
    return None


class ProgressLine:
    """One stderr line rewritten in place: rows done of all, per second, time left."""

    def __init__(self, out: TextIO = sys.stderr) -> None:
        self._out = out

    async def __call__(self, p: Progress) -> None:
        if p.state not in ("running", "cancelling"):
            return          # the summary line says how it ended
        share = f" ({100 * p.done // p.rows}%)" if p.rows else ""
        left = f", {p.eta_seconds:.0f} s left" if p.eta_seconds else ""
        self._out.write(f"\rimport {p.import_id}: {p.done}/{p.rows or '?'} rows{share}, {p.per_second:.0f} rows/s"
                        f"{left}   ")
        self._out.flush()


def run_import(settings: Settings, args: argparse.Namespace) -> int:
    try:
        seen = inspect(args.file, args.sheet, settings.imports.max_rows)
        mapping = _mapping(args.map, seen.table.header)
    except (BadFile, BadMapping, OSError) as exc:
        print(f"switchboard: {args.file}: {exc}", file=sys.stderr)
        return 2
    choices = RunChoices(mapping, OnMatch(args.on_duplicate), args.leads, args.split_name, args.dry_run)
    return asyncio.run(_run(settings, args.file.resolve(), seen.table.sheet, seen.rows, choices))


async def _run(settings: Settings, path: Path, sheet: str | None, rows: int, choices: RunChoices) -> int:
    engine = create_engine(settings.database.url)
    sessions = session_factory(engine)
    try:
        async with Ingestor(engine) as writer:
            async with sessions() as session, session.begin():
                job = await _resumable(session, path, sheet, choices)
                if job is not None:
                    print(f"import {job.id}: resuming after row {job.cursor}, where a run of this file stopped",
                          file=sys.stderr)
                    job.options = {**job.options, **_owner()}
                else:
                    job = await jobs.create_job(session, None, path.name, str(path), sheet, rows, utcnow())
                    # The service resumes jobs its own users started; this process owns this one.
                    await jobs.start(session, job.id, {**choices.as_options(), "cli": True, **_owner()}, rows,
                                     utcnow())
            runner = ImportRunner(sessions, writer, settings.imports, settings.phone.region, utcnow, ProgressLine())
            await runner.run(job.id)
            async with sessions() as session:
                done = await jobs.get_job(session, job.id)
        counts = done.counts or {}
        print(file=sys.stderr)
        word = "would be" if choices.dry_run else "were"
        print(f"import {done.id} {done.state}: {done.cursor} rows read; {word} created {counts.get('created', 0)}, "
              f"joined {counts.get('joined', 0)}, skipped {counts.get('skipped', 0)}, invalid "
              f"{counts.get('invalid', 0)}, leads {counts.get('leads', 0)}, merge suggestions {counts.get('merges', 0)}")
        if done.error:
            print(f"switchboard: {done.error}", file=sys.stderr)
            return 1
        return 0
    finally:
        await engine.dispose()
