"""Processes sharing one Redis: a frame to a user reaches each of the user's sockets once, wherever they are, and
only the processes holding such a socket hear of it."""
from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from redis.asyncio import Redis

from crm_store.types import Role
from gateway.auth_types import Principal
from gateway.fanout import RedisFanout
from gateway.hub import Hub
from support.hub_socket import hub_url

pytestmark = pytest.mark.redis

USER = 7


@contextlib.asynccontextmanager
async def screen(hub: Hub, user_id: int = USER, watch: str = "") -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """One signed-in operator screen connected to `hub` over a real websocket on loopback, once it got its `hello`
    (sent by on_connect, after the hub listened for the user); `first` has the frames up to that one. `watch`:
    the page it shows (a board's socket says so)."""
    who = Principal(user_id, f"op{user_id}", "Op", Role.OPERATOR, None, "en", f"token{user_id}")
    async with hub_url(hub, who) as url, aiohttp.ClientSession() as http, \
            http.ws_connect(url + (f"?watch={watch}" if watch else "")) as ws:
        ws.first = await frames_until(ws, "hello")     # type: ignore[attr-defined]
        yield ws


def greeting(hub: Hub, also: Callable[[], Awaitable[None]] | None = None) -> None:
    """Each new socket gets a `hello` frame from the hub's on_connect (and `also` runs just before it)."""
    async def hello(who: Principal) -> None:
        if also is not None:
            await also()
        await hub.send(who.user_id, "hello", {})

    hub.on_connect.append(hello)


async def frames_until(ws: aiohttp.ClientWebSocketResponse, last: str) -> list[str]:
    """The types of the frames the socket gets, up to and with the frame of type `last`."""
    seen: list[str] = []
    while not seen or seen[-1] != last:
        seen.append((await ws.receive_json(timeout=30))["type"])
    return seen


async def listeners(redis: Redis, channel: str) -> int:
    return dict(await redis.pubsub_numsub(channel))[channel]


async def until(check: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(500):        # bounded: background unsubscriptions land within a few round trips
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("never came true")


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        yield client
    finally:
        await client.aclose()


async def test_a_frame_goes_only_to_the_process_with_the_users_socket_and_arrives_once(redis):
    here, there = Hub(), Hub()
    greeting(there)
    async with RedisFanout(redis, here, "users1:frames") as a, RedisFanout(redis, there, "users1:frames") as b:
        async with screen(there) as ws:
            await a.to_users({USER, 8}, "offer.created", {"n": 1})      # user 8 has no socket anywhere
            await a.to_users({USER}, "done", {})
            assert await frames_until(ws, "done") == ["offer.created", "done"]
            await b.to_roles(frozenset({"supervisor"}), "queue.stats", {})     # every process hears roles
            await until(lambda: _true(a.counts["delivered"] >= 1))
            # `a` heard the roles frame and nothing of the frames to users it has no socket of.
            assert a.counts == {"delivered": 1}
            assert b.counts["delivered"] == 2


async def _true(value: bool) -> bool:
    return value


async def test_a_user_on_both_processes_gets_the_frame_once_on_each_screen(redis):
    here, there = Hub(), Hub()
    greeting(here)
    greeting(there)
    async with RedisFanout(redis, here, "users2:frames") as a, RedisFanout(redis, there, "users2:frames"):
        async with screen(here) as near, screen(there) as far:
            await a.to_users({USER}, "offer.created", {})
            await a.to_users({USER}, "done", {})
            assert await frames_until(near, "done") == ["offer.created", "done"]
            assert await frames_until(far, "done") == ["offer.created", "done"]


async def test_a_socket_that_moves_is_heard_where_it_arrives_and_no_longer_where_it_left(redis):
    here, there = Hub(), Hub()
    greeting(here)
    greeting(there)
    async with RedisFanout(redis, here, "users3:frames") as a, RedisFanout(redis, there, "users3:frames") as b:
        channel = a.user_channel(USER)
        async with screen(here):
            assert await listeners(redis, channel) == 1
        await until(lambda: _is(listeners(redis, channel), 0))      # left `here`: nobody listens
        async with screen(there) as ws:
            assert await listeners(redis, channel) == 1
            await a.to_users({USER}, "offer.created", {})
            await a.to_users({USER}, "done", {})
            assert await frames_until(ws, "done") == ["offer.created", "done"]
            await a.disconnect(USER, None, "signed out")           # closes the socket on the other process
            closing = await ws.receive(timeout=30)
            assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 4401
        assert b.counts["delivered"] == 3
    await until(lambda: _is(listeners(redis, channel), 0))      # a stopped process keeps no subscription


async def _is(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def test_a_frame_sent_while_a_screen_is_being_given_its_state_is_not_missed(redis):
    """The hub listens for the user before the state is read: a change made meanwhile elsewhere still arrives."""
    here, there = Hub(), Hub()
    async with RedisFanout(redis, here, "users4:frames") as a, RedisFanout(redis, there, "users4:frames"):
        greeting(there, also=lambda: a.to_users({USER}, "offer.created", {}))
        async with screen(there) as ws:
            if "offer.created" not in ws.first:         # type: ignore[attr-defined]
                assert await frames_until(ws, "offer.created") == ["offer.created"]


async def test_frames_to_many_users_at_once_reach_each_where_they_are(redis):
    here, there = Hub(), Hub()
    greeting(here)
    greeting(there)
    async with RedisFanout(redis, here, "users5:frames") as a, RedisFanout(redis, there, "users5:frames"):
        async with screen(here, 7) as seven, screen(there, 8) as eight:
            await a.to_users_each([({7}, "task.due", {"task": 1}), ({8}, "task.due", {"task": 2}),
                                   ({9}, "task.due", {"task": 3})])
            assert json.loads((await seven.receive()).data)["data"] == {"task": 1}
            assert json.loads((await eight.receive()).data)["data"] == {"task": 2}


async def test_a_sign_out_reaches_every_process_even_one_without_a_socket_of_the_user(redis):
    """Each process may have the session cached (gateway.signed_in): each must hear that it ended."""
    here, there = Hub(), Hub()
    ended: list[tuple[int, str | None]] = []
    there.on_session_ended.append(lambda user_id, session: ended.append((user_id, session)))
    async with RedisFanout(redis, here, "users6:frames") as a, RedisFanout(redis, there, "users6:frames"):
        await a.disconnect(USER, "digest", "signed out")
        await until(lambda: _true(bool(ended)))
        assert ended == [(USER, "digest")]


async def test_a_frame_for_open_boards_reaches_the_board_sockets_on_every_process_and_no_console(redis):
    here, there = Hub(), Hub()
    greeting(here)
    greeting(there)
    roles = frozenset({"operator", "supervisor"})
    async with RedisFanout(redis, here, "users7:frames") as a, RedisFanout(redis, there, "users7:frames"):
        async with screen(here, watch="board") as near_board, screen(here) as near_console, \
                screen(there, watch="board") as far_board, screen(there) as far_console, \
                screen(there, 8) as other_console:
            await a.to_watchers("board", roles, "lead.moved", {"lead_id": 1})
            await a.to_watchers("board", frozenset({"supervisor"}), "lead.moved", {"lead_id": 2})  # no operator
            await a.to_users({USER, 8}, "done", {})
            # (a user's later screens' hellos reach their earlier ones too)
            for board in (near_board, far_board):
                assert [t for t in await frames_until(board, "done") if t != "hello"] == ["lead.moved", "done"]
            for console in (near_console, far_console, other_console):
                assert [t for t in await frames_until(console, "done") if t != "hello"] == ["done"]
