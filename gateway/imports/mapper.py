"""A big file read and mapped in a child process, so the next batch is mapped on another core while this one is written.

Mapping (phones through phonenumbers, addresses through email-validator) is about half an import's CPU, and
threads share one interpreter lock. The child is a fresh interpreter (`python -m gateway.imports.mapper`), not
a fork of the service (which would inherit its threads and their locks) nor multiprocessing's spawn (which
re-runs a calling script that lacks a `__main__` guard). It reads one pickled `MapJob` on stdin and writes
length-prefixed pickles to stdout: a batch of rows, an empty batch at the end, or a `Failure`. Pickles only
ever travel from this child to its parent. A parent that goes away breaks the pipe, and the child ends.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import pickle
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from crm_store.imports.types import ImportRow, Reject
from gateway.imports.columns import RowRules, to_row
from gateway.imports.files import BadFile, open_table

Batch = list[ImportRow | Reject]
LENGTH = 8                 # bytes of the length prefix
PIPE_LIMIT = 1 << 20       # the parent buffers at most about this much: the child runs a batch or two ahead


@dataclass(frozen=True, slots=True)
class MapJob:
    path: str
    sheet: str | None
    skip: int              # data rows already imported (the job's cursor)
    max_rows: int
    size: int              # rows per batch
    mapping: dict[int, str]
    rules: RowRules


@dataclass(frozen=True, slots=True)
class Failure:
    bad_file: bool         # the file's own fault (BadFile), told to the user as it is
    message: str


def batches(job: MapJob) -> Iterator[Batch]:
    """The file's rows after `skip`, mapped, `size` at a time: what the child sends, also used in a thread."""
    table = open_table(Path(job.path), job.sheet)
    rows = enumerate(table.rows(job.max_rows), start=1)
    for _ in itertools.islice(rows, job.skip):
        pass
    while batch := [to_row(number, cells, job.mapping, job.rules) for number, cells in itertools.islice(rows, job.size)]:
        yield batch


class ChildBatches:
    """The parent's end: `await next()` gives the next batch (an empty one at the end of the file)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    @classmethod
    async def start(cls, job: MapJob) -> ChildBatches:
        # The child imports what this process imports, from the same places (a checkout, a virtualenv).
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", __name__, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            env=env, limit=PIPE_LIMIT)
        assert process.stdin is not None
        process.stdin.write(pickle.dumps(job))
        await process.stdin.drain()
        process.stdin.close()
        return cls(process)

    async def next(self) -> Batch:
        stdout = self._process.stdout
        assert stdout is not None
        try:
            size = int.from_bytes(await stdout.readexactly(LENGTH), "big")
            result = pickle.loads(await stdout.readexactly(size))
        except asyncio.IncompleteReadError:
            code = await self._process.wait()
            raise RuntimeError(f"the mapping process stopped (exit code {code})") from None
        if isinstance(result, Failure):
            raise BadFile(result.message) if result.bad_file else RuntimeError(result.message)
        return result  # type: ignore[no-any-return]

    async def close(self) -> None:
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
        await self._process.wait()


def _send(out: BinaryIO, value: Batch | Failure) -> None:
    data = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    out.write(len(data).to_bytes(LENGTH, "big"))
    out.write(data)
    out.flush()


def main() -> None:
    job = pickle.load(sys.stdin.buffer)
    # The pipe is ours alone: anything printed by a library goes to stderr instead of corrupting a batch.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        for batch in batches(job):
            _send(out, batch)
        _send(out, [])
    except BrokenPipeError:
        return                                  # the parent is gone (killed, or the import was cancelled)
    except BadFile as exc:
        _send(out, Failure(True, str(exc)))
    except Exception as exc:  # noqa: BLE001 (the parent reports it as the job's error)
        _send(out, Failure(False, f"{type(exc).__name__}: {exc}"))


if __name__ == "__main__":
    # Run from the module under its own name, so a pickled Failure names gateway.imports.mapper, not __main__.
    from gateway.imports import mapper
    try:
        mapper.main()
    except BrokenPipeError:                     # the parent went away while a failure was being told
        os._exit(0)
