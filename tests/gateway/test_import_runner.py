"""The import runner: a cancel stops it after the batch in progress, and progress frames reach the importer."""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from crm_store.imports import jobs
from crm_store.ingest import Ingestor
from gateway.imports import runner as runner_module
from gateway.imports.runner import ImportRunner, Progress, RunChoices
from gateway.settings import ImportSettings
import pytest
from sqlalchemy import func, select

from crm_store.models import Contact, Identity

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)   # the store's part is tested on both
from datetime import UTC, datetime, timedelta

from crm_store.imports.types import JobState

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
    text = "Телефон\n" + "".join(f"+7916{n:07d}\n" for n in range(25))
    data.write_text(text, encoding="utf-8")
    async with sessions() as s, s.begin():
        job = await jobs.create_job(s, None, "c.csv", str(data), None, 25, T0)
        await jobs.start(s, job.id, RunChoices({0: "phone"}).as_options(), 25, T0)
    async with Ingestor(engine, clock=lambda: T0) as ingestor:
        runner = ImportRunner(sessions, CancelDuringFirstBatch(ingestor, sessions, job.id), ImportSettings(batch_rows=10),
                              "RU", lambda: T0)
        await runner.run(job.id)                     # 10 rows, then cancelled (which lets the file go)
        data.write_text(text, encoding="utf-8")
        async with sessions() as s, s.begin():       # as if the process had died while running
            stored = await jobs.get_job(s, job.id)
            stored.state, stored.path = "running", str(data)
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


@pytest.fixture
def child_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The file must go to the child process: the in-thread reader is not there to fall back on."""
    def no_thread(*_: Any) -> None:
        raise AssertionError("mapped in a thread, not in the child process")
    monkeypatch.setattr(runner_module, "_ThreadBatches", no_thread)


async def test_a_big_file_is_mapped_in_a_child_process_from_the_cursor_on(engine, sessions, tmp_path: Path,
                                                                          child_only: None) -> None:
    data = tmp_path / "c.csv"
    phones = [f"8 (916) {n:03d}-00-00" if n != 17 else "12-34" for n in range(25)]
    data.write_text("Телефон;ФИО\n" + "".join(f"{p};Клиент {n}\n" for n, p in enumerate(phones)), encoding="utf-8")
    async with sessions() as s, s.begin():
        job = await jobs.create_job(s, None, "c.csv", str(data), None, 25, T0)
        stored = await jobs.start(s, job.id, RunChoices({0: "phone", 1: "name"}).as_options(), 25, T0)
        stored.cursor = 10                          # as if ten rows had been committed before a restart
    settings = ImportSettings(batch_rows=4, mapping_process_rows=0)
    async with Ingestor(engine, clock=lambda: T0) as ingestor:
        counts = await ImportRunner(sessions, ingestor, settings, "RU", lambda: T0).run(job.id)
    assert (counts.created, counts.invalid) == (14, 1)
    async with sessions() as s:
        stored = await jobs.get_job(s, job.id)
        [reject] = await jobs.rejects_page(s, job.id, 0, 10)
        names = set(await s.scalars(select(Contact.display_name)))
        phones_stored = set(await s.scalars(select(Identity.value)))
    assert (stored.state, stored.cursor) == ("done", 25)
    assert reject.row_number == 18 and "12-34" in reject.reason
    assert names == {f"Клиент {n}" for n in range(10, 25) if n != 17}
    assert "+79160150000" in phones_stored and len(phones_stored) == 14


async def test_a_broken_file_fails_the_job_from_the_child_process(engine, sessions, tmp_path: Path,
                                                                   child_only: None) -> None:
    data = tmp_path / "c.csv"
    data.write_text('Телефон;ФИО\n+79161234567;"Клиент\n' + "x" * 20_000 + "\n", encoding="utf-8")
    async with sessions() as s, s.begin():
        job = await jobs.create_job(s, None, "c.csv", str(data), None, 2, T0)
        await jobs.start(s, job.id, RunChoices({0: "phone", 1: "name"}).as_options(), 2, T0)
    async with Ingestor(engine, clock=lambda: T0) as ingestor:
        await ImportRunner(sessions, ingestor, ImportSettings(mapping_process_rows=0), "RU", lambda: T0).run(job.id)
    async with sessions() as s:
        stored = await jobs.get_job(s, job.id)
        assert await s.scalar(select(func.count()).select_from(Contact)) == 0
    assert stored.state == "failed" and "broken CSV" in stored.error     # the file's own fault, told as it is


async def test_a_finished_run_lets_its_uploaded_file_go_a_rehearsal_and_the_command_line_keep_theirs(
        engine, sessions, tmp_path: Path) -> None:
    files = {name: tmp_path / f"{name}.csv" for name in ("dry", "real", "cli")}
    for path in files.values():
        path.write_text("Телефон\n+79161234567\n", encoding="utf-8")
    ids = {}
    async with sessions() as s, s.begin():
        for name, path in files.items():
            job = await jobs.create_job(s, None, path.name, str(path), None, 1, T0, ("Телефон",))
            options = {**RunChoices({0: "phone"}, dry_run=name == "dry").as_options(), **({"cli": True} if name == "cli" else {})}
            await jobs.start(s, job.id, options, 1, T0)
            ids[name] = job.id
    async with Ingestor(engine, clock=lambda: T0) as ingestor:
        runner = ImportRunner(sessions, ingestor, ImportSettings(), "RU", lambda: T0)
        for import_id in ids.values():
            await runner.run(import_id)
    assert {name: path.exists() for name, path in files.items()} == {"dry": True, "real": False, "cli": True}
    async with sessions() as s:
        real = await jobs.get_job(s, ids["real"])
    assert (real.state, real.path, real.options["header"]) == ("done", "", ["Телефон"])


async def test_an_upload_left_unused_is_cancelled_and_its_file_removed(engine, sessions, tmp_path: Path) -> None:
    hours = ImportSettings().keep_unused_hours
    later = T0 + timedelta(hours=hours, minutes=1)
    made = {name: tmp_path / f"{name}.csv" for name in ("old", "fresh", "rehearsed")}
    ids = {}
    async with sessions() as s, s.begin():
        for name, path in made.items():
            path.write_text("Телефон\n+79161234567\n", encoding="utf-8")
            when = later - timedelta(hours=1) if name == "fresh" else T0
            ids[name] = (await jobs.create_job(s, None, path.name, str(path), None, 1, when)).id
        await jobs.start(s, ids["rehearsed"], RunChoices({0: "phone"}, dry_run=True).as_options(), 1, T0)
        await jobs.finish(s, ids["rehearsed"], JobState.DONE, T0)
    async with Ingestor(engine, clock=lambda: later) as ingestor:
        runner = ImportRunner(sessions, ingestor, ImportSettings(), "RU", lambda: later)
        assert await runner.let_go_unused() == 2
        assert await runner.let_go_unused() == 0
    assert {name: path.exists() for name, path in made.items()} == {"old": False, "fresh": True, "rehearsed": False}
    async with sessions() as s:
        old = await jobs.get_job(s, ids["old"])
        fresh = await jobs.get_job(s, ids["fresh"])
    assert (old.state, old.path, f"{hours} hours" in (old.error or "")) == ("cancelled", "", True)
    assert (fresh.state, fresh.path) == ("uploaded", str(made["fresh"]))
