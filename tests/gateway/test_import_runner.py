"""The import runner: a cancel stops it after the batch in progress, and progress frames reach the importer."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from crm_store.imports import jobs
from crm_store.ingest import Ingestor
from gateway.imports.runner import ImportRunner, Progress, RunChoices
from gateway.settings import ImportSettings
import pytest

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)   # the store's part is tested on both
from datetime import UTC, datetime

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class CancelDuringFirstBatch:
    """The intake's writer, with a user's cancel arriving while the first batch is being written."""

    def __init__(self, writer: Ingestor, sessions: Any, import_id: int) -> None:
        self.writer, self.sessions, self.import_id, self.batches = writer, sessions, import_id, 0

    async def run_write(self, work: Any) -> Any:
        self.batches += 1
        if self.batches == 1:
            async with self.sessions() as s, s.begin():
                await jobs.request_cancel(s, self.import_id, T0)
        return await self.writer.run_write(work)


async def test_a_cancel_stops_after_the_batch_in_progress(engine, sessions, tmp_path: Path) -> None:
    data = tmp_path / "c.csv"
    data.write_text("Телефон\n" + "".join(f"+7916{n:07d}\n" for n in range(30)), encoding="utf-8")
    async with sessions() as s, s.begin():
        job = await jobs.create_job(s, None, "c.csv", str(data), None, 30, T0)
        await jobs.start(s, job.id, RunChoices({0: "phone"}).as_options(), 30, T0)
    told: list[Progress] = []

    async def tell(p: Progress) -> None:
        told.append(p)

    async with Ingestor(engine, clock=lambda: T0) as ingestor:
        writer = CancelDuringFirstBatch(ingestor, sessions, job.id)
        runner = ImportRunner(sessions, writer, ImportSettings(batch_rows=10), "RU", lambda: T0, tell)
        counts = await runner.run(job.id)
    assert counts.created == 10 and writer.batches == 1
    async with sessions() as s:
        stored = await jobs.get_job(s, job.id)
    assert (stored.state, stored.cursor, stored.counts["created"]) == ("cancelled", 10, 10)
    assert [(p.state, p.done, p.rows, p.user_id) for p in told] == [("cancelling", 10, 30, None), ("cancelled", 10, 30, None)]
    assert told[0].per_second > 0 and told[0].eta_seconds is not None


async def test_a_resumed_job_starts_after_its_cursor(engine, sessions, tmp_path: Path) -> None:
    data = tmp_path / "c.csv"
    data.write_text("Телефон\n" + "".join(f"+7916{n:07d}\n" for n in range(25)), encoding="utf-8")
    async with sessions() as s, s.begin():
        job = await jobs.create_job(s, None, "c.csv", str(data), None, 25, T0)
        await jobs.start(s, job.id, RunChoices({0: "phone"}).as_options(), 25, T0)
    async with Ingestor(engine, clock=lambda: T0) as ingestor:
        runner = ImportRunner(sessions, CancelDuringFirstBatch(ingestor, sessions, job.id), ImportSettings(batch_rows=10),
                              "RU", lambda: T0)
        await runner.run(job.id)                     # 10 rows, then cancelled
        async with sessions() as s, s.begin():       # as if the process had died while running
            stored = await jobs.get_job(s, job.id)
            stored.state = "running"
        runner = ImportRunner(sessions, ingestor, ImportSettings(batch_rows=10), "RU", lambda: T0)
        assert await runner.resume_all() == [job.id]
        for _ in range(600):
            async with sessions() as s:
                if (await jobs.get_job(s, job.id)).state == "done":
                    break
            await asyncio.sleep(0.02)
        await runner.close()
    async with sessions() as s:
        stored = await jobs.get_job(s, job.id)
    assert (stored.state, stored.cursor, stored.counts["created"], stored.counts.get("joined", 0)) == ("done", 25, 25, 0)
