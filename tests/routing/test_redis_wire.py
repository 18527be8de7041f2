"""The scripts' own connection (`RedisBackend.wire`): every decision goes over it, replies stay matched to
their callers however many call at once or give up, and it reaches, fails and recovers as the client does."""
from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis
from redis.credentials import UsernamePasswordCredentialProvider
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from routing.backends.redis import RedisBackend
from routing.backends.redis_wire import ScriptWire
from routing.engine import RoutingEngine
from routing.types import Agent, Presence, QueueConfig, Task
from support.redis_server import running_redis_async

pytestmark = pytest.mark.redis
QUEUES = {"sales": QueueConfig(offer_timeout=20)}
NOW = 1_800_000_000.0


def sent_through(backend: RedisBackend) -> dict[str, int]:
    """Commands sent from now on, by path: the client's pool, or the scripts' own connection."""
    sent = {"client": 0, "wire": 0}
    for sender, name, path in ((backend.client, "execute_command", "client"), (backend.wire, "call", "wire")):
        send = getattr(sender, name)

        async def counted(*args, _send=send, _path=path, **kwargs):  # type: ignore[no-untyped-def]
            sent[_path] += 1
            return await _send(*args, **kwargs)
        setattr(sender, name, counted)
    return sent


async def agents_ready(engine: RoutingEngine, *ids: str) -> None:
    for agent_id in ids:
        await engine.upsert_agent(Agent(agent_id, capacity={"chat": 1}))
        await engine.set_presence(agent_id, Presence.AVAILABLE)


async def test_a_decision_goes_over_the_scripts_own_connection(redis_url):
    backend = RedisBackend.from_url(redis_url, f"wire{uuid.uuid4().hex}:")
    try:
        engine = RoutingEngine(backend, QUEUES, lambda: NOW)
        await agents_ready(engine, "a", "b")
        await engine.add_task(Task("t0", "chat", queue="sales", created=NOW))   # the script loaded, if new here
        assert backend.wire.lean
        sent = sent_through(backend)
        [offer] = (await engine.add_task(Task("t1", "chat", queue="sales", created=NOW))).offers
        assert offer.agent_id in ("a", "b") and sent == {"client": 0, "wire": 1}
    finally:
        await backend.aclose()


async def test_many_callers_at_once_each_get_their_own_reply(redis_url):
    backend = RedisBackend.from_url(redis_url, f"wire{uuid.uuid4().hex}:")
    try:
        replies = await asyncio.gather(*(backend.wire.call("ECHO", f"m{i}") for i in range(300)))
        assert replies == [f"m{i}" for i in range(300)]
        # And decisions: 40 tasks at once for 40 agents, each offered once, every agent used once.
        engine = RoutingEngine(backend, QUEUES, lambda: NOW)
        ids = [f"a{i}" for i in range(40)]
        await agents_ready(engine, *ids)
        outcomes = await asyncio.gather(*(engine.add_task(Task(f"t{i}", "chat", queue="sales", created=NOW))
                                          for i in range(40)))
        offers = [offer for outcome in outcomes for offer in outcome.offers]
        assert sorted(o.task_id for o in offers) == sorted(f"t{i}" for i in range(40))
        assert sorted(o.agent_id for o in offers) == sorted(ids)
    finally:
        await backend.aclose()


async def test_calls_at_once_go_out_in_fewer_writes_and_still_answer_each_caller(redis_url):
    backend = RedisBackend.from_url(redis_url, f"wire{uuid.uuid4().hex}:")
    try:
        await backend.wire.call("PING")
        wire = backend.wire._wire
        writes = []
        write = wire.transport.write
        wire.transport.write = lambda data: (writes.append(data), write(data))[1]
        replies = await asyncio.gather(*(backend.wire.call("ECHO", f"m{i}") for i in range(50)))
        assert replies == [f"m{i}" for i in range(50)]
        assert len(writes) == 2     # the first at once, the other 49 together at the end of the turn
        writes.clear()
        assert await backend.wire.call("ECHO", "alone") == "alone" and len(writes) == 1
    finally:
        await backend.aclose()


async def test_many_commands_in_one_call_answer_in_order_and_an_error_is_raised_after_all_ran(redis_url):
    backend = RedisBackend.from_url(redis_url, f"wire{uuid.uuid4().hex}:")
    key = f"wire{uuid.uuid4().hex}"
    try:
        assert await backend.wire.call_many([("SET", key, "1"), ("INCR", key), ("GET", key)]) == ["OK", 2, "2"]
        with pytest.raises(ResponseError):
            await backend.wire.call_many([("HGET", key, "x"), ("INCR", key)])     # the first fails: wrong type
        assert await backend.wire.call("GET", key) == "3"                        # the second ran all the same
    finally:
        await backend.client.delete(key)
        await backend.aclose()


async def test_a_caller_that_gives_up_leaves_the_others_replies_in_step(redis_url):
    backend = RedisBackend.from_url(redis_url, f"wire{uuid.uuid4().hex}:")
    key = f"wire{uuid.uuid4().hex}"
    try:
        await backend.wire.call("PING")                     # the connection open
        waiting = asyncio.create_task(backend.wire.call("BLPOP", key, 30))
        await asyncio.sleep(0)                             # sent: its reply comes first, whenever it comes
        after = asyncio.create_task(backend.wire.call("ECHO", "mine"))
        await asyncio.sleep(0)
        waiting.cancel()
        await backend.client.rpush(key, "for the one who left")
        assert await after == "mine"
        assert await backend.wire.call("ECHO", "next") == "next"
        with pytest.raises(asyncio.CancelledError):
            await waiting
    finally:
        await backend.aclose()


async def blocked_clients(client: Redis, command: str) -> list[str]:
    return [c["id"] for c in await client.client_list() if c.get("cmd") == command]


async def until(condition) -> None:  # type: ignore[no-untyped-def]
    while not await condition():
        await asyncio.sleep(0.01)


async def lose_a_call_in_flight(backend: RedisBackend, other: Redis, key: str) -> asyncio.Task:
    """A BLPOP on the wire, its connection killed under it (as a Redis restart or a dropped socket would)."""
    waiting = asyncio.create_task(backend.wire.call("BLPOP", key, 30))
    await until(lambda: blocked_clients(other, "blpop"))
    [first] = await blocked_clients(other, "blpop")
    await other.client_kill_filter(_id=first)
    return waiting


async def test_a_call_lost_in_flight_fails_as_the_clients_would_and_the_wire_reopens():
    async with running_redis_async() as url:
        backend = RedisBackend.from_url(url, "lost:")          # from a URL: redis-py does not retry
        other = Redis.from_url(url, decode_responses=True)
        try:
            engine = RoutingEngine(backend, QUEUES, lambda: NOW)
            await agents_ready(engine, "a", "b")
            await engine.add_task(Task("t0", "chat", queue="sales", created=NOW))   # the script loaded
            waiting = await lose_a_call_in_flight(backend, other, "lost:k")
            with pytest.raises(RedisConnectionError):
                await waiting
            sent = sent_through(backend)
            [offer] = (await engine.add_task(Task("t1", "chat", queue="sales", created=NOW))).offers
            assert offer.agent_id in ("a", "b") and sent == {"client": 0, "wire": 1}      # reopened
        finally:
            await other.aclose()
            await backend.aclose()


async def test_a_call_lost_in_flight_is_sent_again_through_a_client_that_retries():
    async with running_redis_async() as url:
        host, port = url.split("//")[1].split("/")[0].split(":")
        backend = RedisBackend(Redis(host=host, port=int(port), decode_responses=True,
                                     retry=Retry(NoBackoff(), 2)), "again:")
        other = Redis.from_url(url, decode_responses=True)
        try:
            waiting = await lose_a_call_in_flight(backend, other, "again:k")
            await until(lambda: blocked_clients(other, "blpop"))    # the same command, through the client
            await other.rpush("again:k", "v")
            assert list(await waiting) == ["again:k", "v"]
        finally:
            await other.aclose()
            await backend.aclose()


async def test_a_reply_slower_than_the_clients_socket_timeout_fails_as_the_clients_would():
    async with running_redis_async() as url:
        backend = RedisBackend(Redis.from_url(url, decode_responses=True, socket_timeout=1.0), "slow:")
        try:
            await backend.wire.call("PING")
            with pytest.raises(RedisTimeoutError):
                await backend.wire.call("BLPOP", "slow:k", 30)
            assert await backend.wire.call("ECHO", "again") == "again"        # on a new connection
        finally:
            await backend.aclose()


async def test_a_password_and_a_database_are_used_as_the_clients_are():
    async with running_redis_async() as url:
        admin = Redis.from_url(url, decode_responses=True)
        await admin.config_set("requirepass", "s3cret")
        await admin.aclose()
        db3 = url.replace("redis://", "redis://:s3cret@").rsplit("/", 1)[0] + "/3"
        backend = RedisBackend.from_url(db3, "auth:")
        plain = Redis.from_url(db3, decode_responses=True)
        db0 = Redis.from_url(db3.rsplit("/", 1)[0] + "/0", decode_responses=True)
        try:
            engine = RoutingEngine(backend, QUEUES, lambda: NOW)
            await agents_ready(engine, "a")
            [offer] = (await engine.add_task(Task("t1", "chat", queue="sales", created=NOW))).offers
            assert backend.wire.lean and offer.agent_id == "a"
            assert await plain.exists("auth:t:t1") and not await db0.exists("auth:t:t1")     # 3, not 0
            wrong = RedisBackend.from_url(db3.replace("s3cret", "wrong"), "auth:")
            with pytest.raises(AuthenticationError):           # as the client says it
                await wrong.add_task(Task("t2", "chat", queue="sales", created=NOW), 0.0, *task_params())
            await wrong.aclose()
        finally:
            await db0.aclose()
            await plain.aclose()
            await backend.aclose()


def task_params():  # type: ignore[no-untyped-def]
    from routing.backends import TaskParams
    from routing.types import Policy
    return TaskParams(), NOW, Policy.LONGEST_IDLE


async def test_a_client_the_wire_does_not_speak_for_keeps_the_clients_path():
    async with running_redis_async() as url:
        admin = Redis.from_url(url, decode_responses=True)
        await admin.config_set("requirepass", "s3cret")
        await admin.aclose()
        client = Redis.from_url(url, decode_responses=True,
                                credential_provider=UsernamePasswordCredentialProvider(password="s3cret"))
        backend = RedisBackend(client, "provided:")
        try:
            assert not ScriptWire(client).lean
            engine = RoutingEngine(backend, QUEUES, lambda: NOW)
            await agents_ready(engine, "a")
            [offer] = (await engine.add_task(Task("t1", "chat", queue="sales", created=NOW))).offers
            assert offer.agent_id == "a"
            with pytest.raises(ResponseError):      # errors come out of the client's path as ever
                await backend.wire.call("NO-SUCH-COMMAND")
        finally:
            await backend.aclose()

