"""The SQLite writer's thread: calls run one at a time in the order made, errors reach their caller, a call
given up before it started is skipped, and stopping lets the queued calls finish first."""
from __future__ import annotations

import asyncio
import threading
import time

import pytest

from crm_store.writer_thread import WriterThread


async def test_calls_run_in_order_in_one_thread_and_errors_reach_their_caller():
    thread = WriterThread("test-writer")
    seen: list[tuple[int, str]] = []

    def work(n: int) -> int:
        seen.append((n, threading.current_thread().name))
        if n == 3:
            raise ValueError("three")
        return n * 10

    results = await asyncio.gather(*(thread.call(work, n) for n in range(6)), return_exceptions=True)
    await thread.stop()
    assert results[:3] == [0, 10, 20] and results[4:] == [40, 50]
    assert isinstance(results[3], ValueError) and str(results[3]) == "three"
    assert seen == [(n, "test-writer") for n in range(6)]


async def test_a_call_given_up_before_it_started_is_skipped_and_stop_waits_for_the_queued():
    thread = WriterThread("test-writer")
    gate = threading.Event()
    ran: list[str] = []

    def blocking() -> None:
        gate.wait(timeout=30)
        ran.append("first")

    first = asyncio.ensure_future(thread.call(blocking))
    given_up = asyncio.ensure_future(thread.call(ran.append, "given up"))
    queued = asyncio.ensure_future(thread.call(ran.append, "queued"))
    await asyncio.sleep(0)          # all three handed to the thread; the first holds it
    given_up.cancel()
    gate.set()
    await first
    await queued
    await thread.stop()
    with pytest.raises(asyncio.CancelledError):
        await given_up
    assert ran == ["first", "queued"]


async def test_a_call_after_stop_is_an_error_not_a_wait():
    thread = WriterThread("test-writer")
    await thread.stop()
    with pytest.raises(RuntimeError):
        await thread.call(len, "x")


async def test_the_thread_counts_the_cpu_of_its_calls_failed_ones_too():
    """What the intake's writer costs a lead (`switchboard_ingest_writer_cpu_seconds`): each call's own CPU."""
    thread = WriterThread("test-writer")

    def spin(fail: bool) -> float:
        started = time.thread_time()
        while time.thread_time() - started < 0.02:
            pass
        spent = time.thread_time() - started
        if fail:
            raise ValueError(spent)
        return spent

    spent = await thread.call(spin, False)
    with pytest.raises(ValueError) as failed:
        await thread.call(spin, True)
    await thread.stop()
    assert thread.cpu_seconds >= spent + failed.value.args[0]
