"""One thread that runs the SQLite writer's work in order, handed over without Python-level locks.

`loop.run_in_executor` on a one-worker ThreadPoolExecutor takes the executor's shutdown locks and its
idle semaphore (a Condition written in Python) on every call, and the worker releases that semaphore
after each item: under intake load the loop thread and the writer met on those locks once per group
commit and each waited for the other's turn with the GIL (py-spy --gil: 4.5% of the loop thread's
samples in `submit`). Here the work goes through a `queue.SimpleQueue` (C, no Python lock) and the
result comes back with `call_soon_threadsafe`, as the executor's future did.
"""
from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]


class WriterThread:
    """`await thread.call(fn, *args)`: `fn(*args)` in this thread, one call at a time, in the order called."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._stopped = False
        # CPU this thread spent in the calls (not in waiting for them): what the intake's writer costs a lead.
        self.cpu_seconds = 0.0
        # A daemon, unlike the executor's worker, which the interpreter joins at exit: a process that ends without
        # closing its store must not hang on this thread; a write cut short there was never acknowledged.
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._stopped:       # as an executor after shutdown: an error, not a wait for nobody
            raise RuntimeError("the writer thread has stopped")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, future, fn, args))
        return await future

    async def stop(self) -> None:
        """Let the calls already queued finish, then end the thread."""
        self._stopped = True
        self._jobs.put(None)
        await asyncio.to_thread(self._thread.join)

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            loop, future, fn, args = job
            if future.cancelled():      # its caller gave up before it started, as an executor skips it
                continue
            started = time.thread_time()
            try:
                result = fn(*args)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, as the executor's future did
                post_to(loop, reject, future, exc)
            else:
                post_to(loop, resolve, future, result)
            finally:
                self.cpu_seconds += time.thread_time() - started


def post_to(loop: asyncio.AbstractEventLoop, settle: Callable[..., None], *args: Any) -> None:
    try:
        loop.call_soon_threadsafe(settle, *args)
    except RuntimeError:        # the loop closed meanwhile: nobody is left to tell
        pass


def resolve(future: asyncio.Future[Any], result: Any = None) -> None:
    if not future.done():
        future.set_result(result)


def reject(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
