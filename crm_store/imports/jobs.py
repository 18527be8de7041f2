"""Import jobs: created on upload, started with a mapping, moved batch by batch (crm_store.imports.apply), reported."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_store.errors import Conflict, found
from crm_store.imports.apply import BatchResult, Rehearsal, apply_batch
from crm_store.imports.types import ACTIVE_STATES, ImportRow, JobState, Reject, RunOptions
from crm_store.models import ImportJob, ImportReject
from crm_store.session import Sessions


async def create_job(session: AsyncSession, user_id: int | None, filename: str, path: str, sheet: str | None,
                     rows: int | None, now: datetime, header: Sequence[str] = ()) -> ImportJob:
    """`header`: the file's column names, kept for the refused rows' report after the file itself is let go."""
    job = ImportJob(user_id=user_id, state=JobState.UPLOADED, filename=filename[:300], path=path, sheet=sheet,
                    options={"header": list(header)} if header else {}, rows=rows, cursor=0, counts={}, error=None, created_at=now, updated_at=now,
                    finished_at=None)
    session.add(job)
    await session.flush()
    return job


async def get_job(session: AsyncSession, import_id: int) -> ImportJob:
    return found(await session.get(ImportJob, import_id), f"import {import_id} not found")


async def start(session: AsyncSession, import_id: int, options: dict[str, Any], rows: int | None,
                now: datetime) -> ImportJob:
    """Give the job its mapping and choices; a job runs once (a second run of the file is a new upload)."""
    job = found(await session.get(ImportJob, import_id, with_for_update=True), f"import {import_id} not found")
    rehearsed = job.state == JobState.DONE and (job.options or {}).get("dry_run")
    if job.state != JobState.UPLOADED and not rehearsed:
        raise Conflict(f"import {import_id} is already {job.state}")
    # After a dry run the real run starts over: its counts and refused rows replace the rehearsal's.
    await session.execute(delete(ImportReject).where(ImportReject.import_id == import_id))
    header = (job.options or {}).get("header")
    job.options = {**options, "header": header} if header else options
    job.state, job.rows, job.updated_at = JobState.RUNNING, rows, now
    job.cursor, job.counts, job.finished_at, job.error = 0, {}, None, None
    return job


async def set_rows(session: AsyncSession, import_id: int, rows: int) -> None:
    await session.execute(update(ImportJob).where(ImportJob.id == import_id).values(rows=rows))


async def finish(session: AsyncSession, import_id: int, state: JobState, now: datetime,
                 error: str | None = None) -> None:
    await session.execute(update(ImportJob).where(ImportJob.id == import_id).values(
        state=state, error=error[:500] if error else None, finished_at=now, updated_at=now))


async def request_cancel(session: AsyncSession, import_id: int, now: datetime) -> ImportJob:
    """Stop after the batch in progress; a job not running yet is cancelled at once."""
    job = found(await session.get(ImportJob, import_id, with_for_update=True), f"import {import_id} not found")
    if job.state == JobState.UPLOADED:
        job.state, job.finished_at = JobState.CANCELLED, now
    elif job.state == JobState.RUNNING:
        job.state = JobState.CANCELLING
    else:
        raise Conflict(f"import {import_id} is already {job.state}")
    job.updated_at = now
    return job


async def left_running(session: AsyncSession, path: str, sheet: str | None) -> list[ImportJob]:
    """Command-line runs of this file still marked running: each belongs to a process that may have died."""
    candidates = await session.scalars(select(ImportJob).where(
        ImportJob.state.in_(ACTIVE_STATES), ImportJob.path == path, ImportJob.sheet == sheet).order_by(ImportJob.id))
    return [job for job in candidates if (job.options or {}).get("cli")]


def file_may_go(job: ImportJob) -> bool:
    """A finished run's uploaded file is not needed again (a rehearsal's is: the real run reads it next); a command
    line's file is the user's own and stays where it is."""
    options = job.options or {}
    if not job.path or options.get("cli"):
        return False
    return job.state in (JobState.CANCELLED, JobState.FAILED) or (job.state == JobState.DONE
                                                                   and not options.get("dry_run"))


async def forget_file(session: AsyncSession, import_id: int) -> None:
    await session.execute(update(ImportJob).where(ImportJob.id == import_id).values(path=""))


async def unused_uploads(session: AsyncSession, before: datetime) -> list[ImportJob]:
    """Uploads nobody ran (or only rehearsed) since `before`: the service lets their files go."""
    candidates = await session.scalars(select(ImportJob).where(
        ImportJob.state.in_((JobState.UPLOADED, JobState.DONE)), ImportJob.updated_at < before, ImportJob.path != ""))
    return [job for job in candidates if job.state == JobState.UPLOADED or (job.options or {}).get("dry_run")]


async def state_of(session: AsyncSession, import_id: int) -> str | None:
    return await session.scalar(select(ImportJob.state).where(ImportJob.id == import_id))


async def unfinished(session: AsyncSession) -> list[ImportJob]:
    """Jobs a stopped process left running: resumed from their cursor at start-up."""
    found = await session.scalars(select(ImportJob).where(ImportJob.state.in_(ACTIVE_STATES)).order_by(ImportJob.id))
    # A command-line import belongs to its own process: the service does not take it over.
    return [job for job in found if not (job.options or {}).get("cli")]


async def rejects_page(session: AsyncSession, import_id: int, after: int, limit: int) -> list[ImportReject]:
    return list(await session.scalars(select(ImportReject).where(
        ImportReject.import_id == import_id, ImportReject.id > after).order_by(ImportReject.id).limit(limit)))


async def dry_run_batch(sessions: Sessions, rows: Sequence[ImportRow], rejects: Sequence[Reject],
                        options: RunOptions, now: datetime, rehearsal: Rehearsal) -> BatchResult:
    """What `apply_batch` would do, found by doing it in a transaction that is then rolled back; `rehearsal` carries
    what the run's earlier batches would have written (one per run)."""
    blank = RunOptions(None, options.on_match, options.user_id)
    async with sessions() as session:
        try:
            return await session.run_sync(apply_batch, rows, rejects, blank, 0, now, rehearsal)
        finally:
            await session.rollback()
