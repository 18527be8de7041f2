"""Import jobs in the background: read a batch off the file and map it (in a child process for a big file, in a
thread for a small one) while the one before is written through the intake's writer with the job's cursor in the
same transaction; tell the importing user how far it got; resume at start-up.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

from crm_store import fields
from crm_store.errors import Invalid
from crm_store.imports import jobs
from crm_store.imports.apply import BatchResult, Rehearsal, apply_batch, record_progress
from crm_store.imports.types import Counts, ImportRow, JobState, OnMatch, Reject, RunOptions
from crm_store.session import Sessions
from gateway.imports.columns import RowRules
from gateway.imports.files import BadFile
from gateway.imports.mapper import Batch, ChildBatches, MapJob, batches
from gateway.settings import ImportSettings

log = logging.getLogger(__name__)
T = TypeVar("T")


class Writer(Protocol):
    """The intake's group-commit writer (crm_store.ingest.Ingestor): one writer, so SQLite never waits on itself."""

    async def run_write(self, work: Callable[[Any], T]) -> T: ...


@dataclass(frozen=True, slots=True)
class Progress:
    import_id: int
    user_id: int | None
    state: str
    rows: int | None
    done: int
    counts: dict[str, int]
    per_second: float
    eta_seconds: float | None


OnProgress = Callable[[Progress], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RunChoices:
    """What the user chose for a run, as stored in the job's options."""

    mapping: dict[int, str]
    on_match: OnMatch = OnMatch.FILL
    leads: bool = False
    split_name: bool = False
    dry_run: bool = False

    def as_options(self) -> dict[str, Any]:
        return {"mapping": {str(k): v for k, v in self.mapping.items()}, "on_match": self.on_match.value,
                "leads": self.leads, "split_name": self.split_name, "dry_run": self.dry_run}

    @classmethod
    def of(cls, options: dict[str, Any]) -> RunChoices:
        return cls({int(k): v for k, v in options.get("mapping", {}).items()}, OnMatch(options.get("on_match", "fill")),
                   bool(options.get("leads")), bool(options.get("split_name")), bool(options.get("dry_run")))


class ImportRunner:
    def __init__(self, sessions: Sessions, writer: Writer, settings: ImportSettings, region: str,
                 clock: Callable[[], datetime], on_progress: OnProgress | None = None) -> None:
        self._sessions = sessions
        self._writer = writer
        self._settings = settings
        self._region = region
        self._clock = clock
        self._on_progress = on_progress
        self._running: dict[int, asyncio.Task[Counts]] = {}
        self._sweeper: asyncio.Task[None] | None = None

    def start(self, import_id: int) -> None:
        """Run (or resume) the job in the background."""
        if import_id not in self._running:
            task = asyncio.create_task(self.run(import_id), name=f"import:{import_id}")
            self._running[import_id] = task
            task.add_done_callback(lambda _: self._running.pop(import_id, None))

    async def resume_all(self) -> list[int]:
        """Jobs a stopped process left running go on from their cursor."""
        async with self._sessions() as session:
            ids = [job.id for job in await jobs.unfinished(session)]
        for import_id in ids:
            log.info("import %d resumes from its last committed batch", import_id)
            self.start(import_id)
        return ids

    def sweep_unused(self, every_seconds: float = 3600.0) -> None:
        """Let go of unused uploads now, then every `every_seconds`, until close."""
        self._sweeper = asyncio.create_task(self._sweep(every_seconds), name="imports:unused-uploads")

    async def _sweep(self, every_seconds: float) -> None:
        while True:
            try:
                await self.let_go_unused()
            except Exception:        # the database away for a moment: the next round tries again
                log.exception("unused import uploads were not swept")
            await asyncio.sleep(every_seconds)

    async def close(self) -> None:
        """Stop between batches' awaits: what is committed stays, the job stays running and resumes next start."""
        tasks = [*self._running.values(), *([self._sweeper] if self._sweeper else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def run(self, import_id: int) -> Counts:
        try:
            return await self._run(import_id)
        except asyncio.CancelledError:
            raise
        except BadFile as exc:
            await self._finish(import_id, JobState.FAILED, str(exc))
        except Exception as exc:
            log.exception("import %d failed", import_id)
            await self._finish(import_id, JobState.FAILED, f"{type(exc).__name__}: {exc}")
        return Counts()

    async def _run(self, import_id: int) -> Counts:
        async with self._sessions() as session:
            job = await jobs.get_job(session, import_id)
            path, sheet, cursor, total, user_id, state = (Path(job.path), job.sheet, job.cursor, job.rows,
                                                          job.user_id, job.state)
            choices = RunChoices.of(job.options or {})
        if state == JobState.CANCELLING:
            await self._finish(import_id, JobState.CANCELLED)
            return Counts()
        rules = RowRules(self._region, choices.leads, choices.split_name, self._settings.currency)
        options = RunOptions(import_id, choices.on_match, user_id)
        counts = Counts()
        async with self._sessions() as session:
            totals = Counts(**{k: int(v) for k, v in ((await jobs.get_job(session, import_id)).counts or {}).items()
                               if k in Counts.__slots__})  # type: ignore[attr-defined]
        started, done_here = time.perf_counter(), 0
        work = MapJob(str(path), sheet, cursor, self._settings.max_rows, self._settings.batch_rows, choices.mapping,
                      rules)
        big = total is not None and total - cursor > self._settings.mapping_process_rows
        source: _Batches = await ChildBatches.start(work) if big else _ThreadBatches(work)
        rehearsal = Rehearsal() if choices.dry_run else None
        try:
            while batch := await source.next():
                good = [r for r in batch if isinstance(r, ImportRow)]
                refused = [r for r in batch if isinstance(r, Reject)]
                good, more = await self._checked_fields(good)
                cursor = batch[-1].number
                result = await self._write(good, refused + more, options, cursor, rehearsal)
                counts.add(result.counts)
                totals.add(result.counts)
                done_here += len(batch)
                rate = done_here / max(time.perf_counter() - started, 1e-6)
                state = await self._state(import_id)
                await self._tell(Progress(import_id, user_id, state, total, cursor, totals.as_dict(), rate,
                                          (total - cursor) / rate if total is not None else None))
                if state == JobState.CANCELLING:
                    await self._finish(import_id, JobState.CANCELLED)
                    return counts
        finally:
            await source.close()
        await self._finish(import_id, JobState.DONE)
        return counts

    async def _write(self, rows: list[ImportRow], rejects: list[Reject], options: RunOptions, cursor: int,
                     rehearsal: Rehearsal | None) -> BatchResult:
        now = self._clock()
        if rehearsal is None:
            return await self._writer.run_write(partial(apply_batch, rows=rows, rejects=rejects, options=options,
                                                        cursor=cursor, now=now))
        result = await jobs.dry_run_batch(self._sessions, rows, rejects, options, now, rehearsal)
        await self._writer.run_write(partial(record_progress, options=options, cursor=cursor, counts=result.counts,
                                             rejects=result.rejects, now=now))
        return result

    async def _checked_fields(self, rows: list[ImportRow]) -> tuple[list[ImportRow], list[Reject]]:
        """Custom field values checked as every other change is (crm_store.fields); a wrong one refuses its row."""
        if not any(r.contact_fields or (r.lead and r.lead.fields) for r in rows):
            return rows, []
        good: list[ImportRow] = []
        bad: list[Reject] = []
        async with self._sessions() as session:
            for row in rows:
                try:
                    contact = await fields.checked_values(session, fields.Entity.CONTACT, row.contact_fields, {})
                    lead = row.lead
                    if lead is not None and lead.fields:
                        lead = dataclasses.replace(lead, fields=await fields.checked_values(
                            session, fields.Entity.LEAD, lead.fields, {}))
                except Invalid as exc:
                    bad.append(Reject(row.number, exc.message, row.raw))
                    continue
                good.append(dataclasses.replace(row, contact_fields=contact, lead=lead))
        return good, bad

    async def _state(self, import_id: int) -> str:
        async with self._sessions() as session:
            return await jobs.state_of(session, import_id) or JobState.FAILED

    async def _finish(self, import_id: int, state: JobState, error: str | None = None) -> None:
        now = self._clock()
        async with self._sessions() as session, session.begin():
            await jobs.finish(session, import_id, state, now, error)
            job = await jobs.get_job(session, import_id)
            progress = Progress(import_id, job.user_id, state, job.rows, job.cursor, dict(job.counts or {}), 0.0, 0.0)
            done_with = Path(job.path) if jobs.file_may_go(job) else None
        if done_with is not None:
            await self.let_go(import_id, done_with)
        await self._tell(progress)

    async def let_go_unused(self) -> int:
        """Uploads nobody ran (or only rehearsed) for `[imports] keep_unused_hours` are cancelled and their files
        removed: an upload page left open must not keep a 50 MB file on the server's disk forever."""
        now = self._clock()
        hours = self._settings.keep_unused_hours
        async with self._sessions() as session, session.begin():
            unused = [(job.id, Path(job.path)) for job in await jobs.unused_uploads(session, now - timedelta(hours=hours))]
            for import_id, _ in unused:
                await jobs.finish(session, import_id, JobState.CANCELLED, now,
                                  f"not run within {hours} hours: the file was removed; upload it again")
        for import_id, path in unused:
            await self.let_go(import_id, path)
        return len(unused)

    async def let_go(self, import_id: int, path: Path) -> None:
        """The job's file is not needed again: the row forgets it, then it is removed."""
        # The row first forgets the file, then the file goes: a crash in between leaves a file nobody points at,
        # never a job pointing at nothing it says it has.
        async with self._sessions() as session, session.begin():
            await jobs.forget_file(session, import_id)
        try:
            await asyncio.to_thread(path.unlink, missing_ok=True)
        except OSError:
            log.exception("import %d: its file %s could not be removed", import_id, path)

    async def _tell(self, progress: Progress) -> None:
        if self._on_progress is None:
            return
        try:
            await self._on_progress(progress)
        except Exception:        # a closed socket must not stop the import
            log.exception("import progress for %d not delivered", progress.import_id)


class _Batches(Protocol):
    async def next(self) -> Batch: ...           # an empty batch: the end of the file
    async def close(self) -> None: ...


class _ThreadBatches:
    """A small file read and mapped in a thread, the next batch while this one is written (no child to start)."""

    def __init__(self, work: MapJob) -> None:
        self._rows = batches(work)
        self._upcoming: asyncio.Future[Batch] | None = None

    async def next(self) -> Batch:
        if self._upcoming is None:
            self._upcoming = asyncio.ensure_future(asyncio.to_thread(next, self._rows, []))
        batch = await self._upcoming
        self._upcoming = asyncio.ensure_future(asyncio.to_thread(next, self._rows, [])) if batch else None
        return batch

    async def close(self) -> None:
        # The file's reader is not shared between threads: the batch being read is let finish first.
        if self._upcoming is not None:
            await asyncio.gather(self._upcoming, return_exceptions=True)
        self._rows.close()
