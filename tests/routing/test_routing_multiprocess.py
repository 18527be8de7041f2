"""Two OS processes share one Redis: 1,000 tasks, 20 agents, every task assigned exactly once."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from redis.asyncio import Redis

from support.redis_server import running_redis_async

pytestmark = pytest.mark.redis

WORKER = Path(__file__).with_name("routing_mp_worker.py")
ROOT = Path(__file__).resolve().parents[2]
# A bound, not a speed check: a few seconds alone, far longer beside the parallel workers on a busy machine.
WAIT = 300


async def test_two_processes_assign_every_task_once(redis_url, tmp_path):
    prefix = f"mp{os.getpid()}:"
    logs = [tmp_path / f"worker{i}.jsonl" for i in range(2)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, str(WORKER), redis_url, prefix, str(i), "500", "20", str(logs[i]),
                               "1000", str(WAIT)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for i in range(2)]
    for proc in procs:
        try:
            _, err = proc.communicate(timeout=WAIT + 60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
        assert proc.returncode == 0, err.decode()[-2000:]

    entries = [json.loads(line) for log in logs for line in log.read_text().splitlines()]
    assigned = [e for e in entries if e["kind"] == "assigned"]
    counts = Counter(a["task"] for a in assigned)
    assert len(counts) == 1000 and set(counts.values()) == {1}
    made_by = {e["offer"]: e["worker"] for e in entries if e["kind"] == "offered"}
    assert len(made_by) >= 1000
    # Agents accepted, through each process, offers the other process had made.
    crossed = Counter((made_by[a["offer"]], a["worker"]) for a in assigned)
    assert crossed[(0, 1)] > 0 and crossed[(1, 0)] > 0, crossed

    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        assert await client.scard(f"{prefix}open") == 0
        stats: Counter[str] = Counter()       # summed over days: a run may cross midnight (UTC)
        async for key in client.scan_iter(match=f"{prefix}st:*"):
            stats.update({name: float(value) for name, value in (await client.hgetall(key)).items()})
        assert stats["c:chat:entered"] == 1000
        assert stats["c:chat:assigned"] == 1000
        assert stats["c:chat:completed"] == 1000
        for i in range(20):
            agent = json.loads(await client.get(f"{prefix}a:agent{i:02d}"))
            load = agent["load"] if isinstance(agent["load"], dict) else {}  # cjson writes {} for an empty table
            assert load.get("chat", 0) == 0
            assert await client.scard(f"{prefix}ao:agent{i:02d}") == 0
    finally:
        await client.aclose()


async def test_async_redis_helper_starts_and_stops_a_server():
    async with running_redis_async() as url:
        client = Redis.from_url(url)
        assert await client.ping()
        await client.aclose()
