"""/api/v1/imports: upload a CSV or XLSX file, map its columns, rehearse, run in the background, report."""
from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from crm_store.imports import jobs
from crm_store.imports.types import OnMatch
from gateway.api.audited import audited
from gateway.api.params import path_id
from gateway.auth import require_role
from gateway.errors import read_model, refuse
from gateway.exports import send_table
from gateway.imports.columns import FIELDS, LEAD_FIELDS, BadMapping, RowRules, checked_mapping, guess
from gateway.imports.files import BadFile, open_table
from gateway.imports.runner import RunChoices
from gateway.imports.uploads import first_rows, inspect, named_mapping, previewed
from gateway.keys import CLOCK, IMPORTS, SESSIONS, SETTINGS

routes = web.RouteTableDef()
SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx")


class MappingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mapping: dict[str, str] = Field(max_length=200)      # column name (or number) -> field; "" or "-" skips it
    leads: bool = False                                  # each row is also a lead
    split_name: bool = False
    on_match: OnMatch = OnMatch.FILL
    dry_run: bool = False


def _import_id(request: web.Request) -> int:
    return path_id(request, "import_id", "import")


async def _allowed(request: web.Request) -> Any:
    return await require_role(request, *request.app[SETTINGS].imports.roles)


def job_json(job: Any) -> dict[str, Any]:
    counts = dict(job.counts or {})
    return {"id": job.id, "state": job.state, "filename": job.filename, "sheet": job.sheet, "rows": job.rows,
            "done": job.cursor, "created": counts.get("created", 0), "joined": counts.get("joined", 0),
            "skipped": counts.get("skipped", 0), "invalid": counts.get("invalid", 0),
            "merges": counts.get("merges", 0), "leads": counts.get("leads", 0), "error": job.error,
            "dry_run": bool((job.options or {}).get("dry_run")), "options": job.options or {},
            "created_at": job.created_at.isoformat(), "finished_at": job.finished_at.isoformat()
            if job.finished_at else None}


async def _receive(request: web.Request) -> tuple[Path, str, str | None]:
    """Stream the multipart `file` to the data folder within the size limit; `sheet` optional."""
    limit = request.app[SETTINGS].imports.max_bytes
    folder = Path(request.app[SETTINGS].storage.dir) / "imports"
    if not request.content_type.startswith("multipart/"):
        refuse(415, "unsupported", "send the file as multipart/form-data with a part named file", "file")
    reader = await request.multipart()
    path: Path | None = None
    name, sheet = "", None
    while (part := await reader.next()) is not None:
        if part.name == "sheet":
            sheet = (await part.text()).strip()[:200] or None  # type: ignore[union-attr]
            continue
        if part.name != "file" or path is not None:
            refuse(422, "invalid", f"unexpected part {str(part.name)[:40]!r}: send file (and sheet)", "file")
        name = (getattr(part, "filename", None) or "upload.csv")[:300]
        suffix = Path(name).suffix.lower()
        if suffix not in SUFFIXES:
            refuse(422, "invalid", f"file: {suffix or 'no extension'} is not CSV or XLSX (.xls: save as .xlsx)",
                   "file")
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        path = folder / f"{uuid.uuid4().hex}{suffix}"
        size = 0
        with path.open("wb") as out:
            while chunk := await part.read_chunk(256 * 1024):  # type: ignore[union-attr]
                size += len(chunk)
                if size > limit:
                    out.close()
                    path.unlink(missing_ok=True)
                    refuse(413, "too_large", f"file: larger than {limit} bytes (the [imports] max_bytes limit)", "file")
                out.write(chunk)
    if path is None:
        refuse(422, "invalid", "file: missing (multipart part named file)", "file")
    return path, name, sheet


@routes.post("/api/v1/imports")
async def upload(request: web.Request) -> web.Response:
    who = await _allowed(request)
    settings = request.app[SETTINGS]
    path, name, sheet = await _receive(request)
    try:
        seen = await asyncio.to_thread(inspect, path, sheet, settings.imports.max_rows)
    except BadFile as exc:
        path.unlink(missing_ok=True)
        refuse(422, "bad_file", f"file: {exc}", "file")
    mapping = guess(seen.table.header)
    rules = RowRules(settings.phone.region, any(f in LEAD_FIELDS for f in mapping.values()), False,
                     settings.imports.currency)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        job = await jobs.create_job(session, who.user_id, name, str(path), seen.table.sheet, seen.rows,
                                    request.app[CLOCK](), seen.table.header)
        return job, {"import_id": job.id, "filename": name, "rows": seen.rows}

    try:
        job = await audited(request, "import.upload", work)
    except BaseException:
        path.unlink(missing_ok=True)     # no job points at it
        raise
    return web.json_response({
        **job_json(job), "kind": seen.table.kind, "sheets": list(seen.table.sheets), "columns": list(seen.table.header),
        "encoding": seen.table.encoding, "delimiter": seen.table.delimiter, "fields": list(FIELDS),
        "mapping": named_mapping(seen.table.header, mapping), "leads": rules.leads,
        "preview": previewed(seen.first, mapping, rules)}, status=201)


async def _job(request: web.Request, import_id: int) -> Any:
    async with request.app[SESSIONS]() as session:
        return await jobs.get_job(session, import_id)


def _choices(request: web.Request, job: Any, body: MappingIn) -> tuple[RunChoices, RowRules]:
    try:
        header = open_table(Path(job.path), job.sheet).header
    except (BadFile, OSError) as exc:
        refuse(409, "file_gone", f"the uploaded file can no longer be read ({exc}): upload it again", "file")
    try:
        mapping = checked_mapping(body.mapping, header)
    except BadMapping as exc:
        refuse(422, "invalid", str(exc), exc.field)
    settings = request.app[SETTINGS]
    return (RunChoices(mapping, body.on_match, body.leads, body.split_name, body.dry_run),
            RowRules(settings.phone.region, body.leads, body.split_name, settings.imports.currency))


@routes.post("/api/v1/imports/{import_id}/preview")
async def preview(request: web.Request) -> web.Response:
    await _allowed(request)
    job = await _job(request, _import_id(request))
    body = await read_model(request, MappingIn)
    choices, rules = await asyncio.to_thread(_choices, request, job, body)
    try:
        rows = await asyncio.to_thread(first_rows, Path(job.path), job.sheet, request.app[SETTINGS].imports.max_rows)
    except (BadFile, OSError) as exc:
        refuse(409, "file_gone", f"the uploaded file can no longer be read ({exc}): upload it again", "file")
    return web.json_response({"preview": previewed(rows, choices.mapping, rules)})


@routes.post("/api/v1/imports/{import_id}/run")
async def run(request: web.Request) -> web.Response:
    await _allowed(request)
    import_id = _import_id(request)
    job = await _job(request, import_id)
    body = await read_model(request, MappingIn)
    choices, _ = await asyncio.to_thread(_choices, request, job, body)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        started = await jobs.start(session, import_id, choices.as_options(), job.rows, request.app[CLOCK]())
        return started, {"import_id": import_id, "dry_run": choices.dry_run, "on_match": choices.on_match.value}

    started = await audited(request, "import.run", work)
    request.app[IMPORTS].start(import_id)
    return web.json_response(job_json(started), status=202)


@routes.get("/api/v1/imports/{import_id}")
async def status(request: web.Request) -> web.Response:
    await _allowed(request)
    return web.json_response(job_json(await _job(request, _import_id(request))))


@routes.post("/api/v1/imports/{import_id}/cancel")
async def cancel(request: web.Request) -> web.Response:
    await _allowed(request)
    import_id = _import_id(request)

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        job = await jobs.request_cancel(session, import_id, request.app[CLOCK]())
        return job, {"import_id": import_id}

    job = await audited(request, "import.cancel", work)
    if jobs.file_may_go(job):          # cancelled before it ran; a running job lets its file go when it stops
        await request.app[IMPORTS].let_go(import_id, Path(job.path))
    return web.json_response(job_json(job))


@routes.get("/api/v1/imports/{import_id}/rejects.csv")
async def rejects(request: web.Request) -> web.StreamResponse:
    await _allowed(request)
    import_id = _import_id(request)
    job = await _job(request, import_id)
    header = await asyncio.to_thread(_header_or_empty, job)

    async def chunks() -> Any:
        after = 0
        while True:
            async with request.app[SESSIONS]() as session:
                page = await jobs.rejects_page(session, import_id, after, 1000)
            if not page:
                return
            after = page[-1].id
            yield [(r.row_number, r.reason, *r.values) for r in page]

    async def work(session: Any) -> tuple[Any, dict[str, Any]]:
        return None, {"import_id": import_id}

    await audited(request, "import.rejects", work)
    return await send_table(request, f"import-{import_id}-rejects", "csv", ["row", "reason", *header], chunks())


def _header_or_empty(job: Any) -> list[str]:
    if header := (job.options or {}).get("header"):
        return list(header)
    try:                 # a job uploaded before the header was kept with it
        return list(open_table(Path(job.path), job.sheet).header)
    except (BadFile, OSError):
        return []
