"""Each script carries only the shared Lua functions it calls: none it calls is left out, none it does not
is run (Redis runs every `local function` statement of a script on each call)."""
from __future__ import annotations

import re

import pytest
from redis.asyncio import Redis

from routing.backends import redis_lua as lua
from routing.backends import redis_lua_tasks as lua_tasks

BODIES = {name: getattr(module, name) for module in (lua, lua_tasks) for name in dir(module)
          if name.isupper() and name != "PRELUDE"}
SHARED = set(re.findall(r"^local function (\w+)", lua.PRELUDE, re.M))


def defined(text: str) -> list[str]:
    return re.findall(r"^local function (\w+)", text, re.M)


def called(text: str) -> set[str]:
    return {name for name in SHARED if re.search(rf"(?<![\w.:]){name}\s*\(", text)}


def test_the_prelude_cuts_into_whole_pieces_in_order():
    assert "\n".join(text for _, text in lua._chunks(lua.PRELUDE)) == lua.PRELUDE.strip("\n")
    assert [name for name, _ in lua._chunks(lua.PRELUDE) if name] == defined(lua.PRELUDE)


@pytest.mark.parametrize("name", sorted(BODIES))
def test_a_script_defines_what_it_calls_and_nothing_else(name):
    text = lua.script(BODIES[name])
    assert text.endswith(BODIES[name])
    mine = defined(text[:-len(BODIES[name])])          # the shared ones it carries
    assert called(text) <= set(mine)                  # every shared function called is there, defined once
    assert len(mine) == len(set(mine))
    assert set(mine) <= called(re.sub(r"local function \w+", "", text))     # and each is called
    assert mine == [f for f in defined(lua.PRELUDE) if f in mine]            # in the prelude's order
    assert text.count("local P = ARGV[1]") == 1


@pytest.mark.redis
async def test_every_script_compiles(redis_url):
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        for name, body in BODIES.items():
            assert await client.script_load(lua.script(body)), name
    finally:
        await client.aclose()
