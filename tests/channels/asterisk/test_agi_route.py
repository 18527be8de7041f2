"""FastAGI `route` against a client on loopback that speaks what Asterisk 22 sends."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from channels.asterisk.agi import AgiRouteServer, RouteAnswer, RouteRequest, clean, parse_request
from support.agi_client import HOST, agi_call, answered, environment

SHORT = 2.0     # the `strict` server gives a connection this long, so silent peers end quickly
ROOMY = 60.0    # the others never cut a slow exchange short, however busy the machine is


class Chooser:
    """Records what it was asked; answers `answer`, after `delay`, or raises `error`."""

    def __init__(self, answer: RouteAnswer | None = None, delay: float = 0.0,
                 error: Exception | None = None) -> None:
        self.answer, self.delay, self.error = answer, delay, error
        self.requests: list[RouteRequest] = []

    async def choose(self, request: RouteRequest) -> RouteAnswer | None:
        self.requests.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return self.answer


@pytest.fixture
def chooser() -> Chooser:
    return Chooser(RouteAnswer("102", "owner"))


@pytest.fixture
async def server(chooser: Chooser) -> AsyncIterator[AgiRouteServer]:
    async with AgiRouteServer(chooser, host=HOST, port=0, timeout_seconds=ROOMY) as running:
        yield running


@pytest.fixture
async def strict(chooser: Chooser) -> AsyncIterator[AgiRouteServer]:
    async with AgiRouteServer(chooser, host=HOST, port=0, timeout_seconds=SHORT) as running:
        yield running


async def test_owner_answer_is_set(server: AgiRouteServer, chooser: Chooser) -> None:
    exchange = await agi_call(server.port, environment(server.port))
    assert exchange.commands == ['SET VARIABLE SWITCHBOARD_EXTEN "102"', 'SET VARIABLE SWITCHBOARD_REASON "owner"']
    assert chooser.requests == [RouteRequest(caller="+74951234567", caller_name="Иван Петров", did="6000",
                                             queue="sales", fallback="101", channel="PJSIP/pstn-00000031",
                                             linkedid="1795384335.10")]


async def test_no_choice_uses_the_fallback(server: AgiRouteServer, chooser: Chooser) -> None:
    chooser.answer = None
    assert answered(await agi_call(server.port, environment(server.port))) == ('"101"', '"fallback"')


def test_the_default_budget_keeps_the_dialplans_contract() -> None:
    assert AgiRouteServer(Chooser()).budget_seconds < 0.2      # the dialplan's contract: an answer under 200 ms


async def test_slow_chooser_falls_back_within_the_budget(server: AgiRouteServer) -> None:
    # The chooser never answers while the call waits: only the budget can end the wait (no timing asserted).
    release = asyncio.Event()

    class Hung:
        async def choose(self, request: RouteRequest) -> RouteAnswer | None:
            await release.wait()
            return RouteAnswer("103", "routing")

    server.chooser = Hung()
    exchange = await agi_call(server.port, environment(server.port), timeout=30)
    release.set()
    assert answered(exchange) == ('"101"', '"fallback"')


async def test_chooser_that_swallows_cancellation_still_meets_the_budget(server: AgiRouteServer) -> None:
    release = asyncio.Event()

    class Stubborn:
        async def choose(self, request: RouteRequest) -> RouteAnswer | None:
            try:
                await release.wait()
            except asyncio.CancelledError:
                await release.wait()        # swallowed: still not answering
            return RouteAnswer("103", "routing")

    server.chooser = Stubborn()
    exchange = await agi_call(server.port, environment(server.port), timeout=30)
    release.set()
    assert answered(exchange) == ('"101"', '"fallback"')


async def test_failing_chooser_falls_back(server: AgiRouteServer, chooser: Chooser) -> None:
    chooser.error = RuntimeError("database down")
    assert answered(await agi_call(server.port, environment(server.port))) == ('"101"', '"fallback"')


async def test_no_answer_and_no_fallback_is_empty(server: AgiRouteServer, chooser: Chooser) -> None:
    chooser.answer = None
    exchange = await agi_call(server.port, environment(server.port, agi_arg_2=None))
    assert exchange.commands == ['SET VARIABLE SWITCHBOARD_EXTEN ""', 'SET VARIABLE SWITCHBOARD_REASON "none"']


async def test_linkedid_argument_and_hidden_caller(server: AgiRouteServer, chooser: Chooser) -> None:
    env = environment(server.port, agi_callerid="anonymous", agi_calleridname="unknown", agi_dnid="unknown",
                      agi_extension="s", agi_arg_3="1795384300.4")
    await agi_call(server.port, env)
    [request] = chooser.requests
    assert (request.caller, request.caller_name, request.did, request.linkedid) == (None, None, None, "1795384300.4")


async def test_cyrillic_name_split_across_reads(server: AgiRouteServer, chooser: Chooser) -> None:
    """panoramisk reads 100 bytes at a time: a name placed across that boundary still arrives whole."""
    env = environment(server.port)
    head = "".join(f"{k}: {v}\n" for k, v in env.items() if k != "agi_calleridname").encode()
    name = "Ёлкина Анна-Мария"
    for pad in range(4):    # shift the name over a read boundary, whatever it is
        payload = head + f"agi_x: {'x' * pad}\nagi_calleridname: {name}\n\n".encode()
        reader, writer = await asyncio.open_connection(HOST, server.port)
        for i in range(0, len(payload), 7):     # and dribble it in small TCP writes
            writer.write(payload[i:i + 7])
            await writer.drain()
        async with asyncio.timeout(30):
            while await reader.readline():
                writer.write(b"200 result=1\n")
        writer.close()
    assert [r.caller_name for r in chooser.requests] == [name] * 4


async def test_injection_in_a_value_cannot_add_a_command(server: AgiRouteServer, chooser: Chooser) -> None:
    chooser.answer = RouteAnswer('101"\nEXEC Dial PJSIP/999', 'owner"\nHANGUP')
    assert answered(await agi_call(server.port, environment(server.port))) == ('"101"', '"fallback"')
    chooser.answer = RouteAnswer("104", 'owner"\nEXEC Hangup')
    assert answered(await agi_call(server.port, environment(server.port))) == ('"104"', '"ownerEXECHangup"')
    chooser.answer = RouteAnswer("1" * 500, "owner")       # cut short it would ring somebody else
    assert answered(await agi_call(server.port, environment(server.port))) == ('"101"', '"fallback"')
    chooser.answer = None
    exchange = await agi_call(server.port, environment(server.port, agi_arg_2='101" EXEC'))
    assert answered(exchange) == ('""', '"none"')


def test_clean_keeps_dial_characters_only() -> None:
    assert clean('+7 (495) 123-45-67*#_x"\n\r;$') == "+7495123-45-67*#_x"


def test_parse_request_tolerates_missing_headers() -> None:
    assert parse_request({}) == RouteRequest(None, None, None, None, None, "", None)


async def test_early_disconnect_and_silent_peer_do_not_break_the_server(strict: AgiRouteServer) -> None:
    server = strict
    # Closes half way through the environment: panoramisk alone would spin forever on EOF here.
    reader, writer = await asyncio.open_connection(HOST, server.port)
    writer.write(b"agi_network: yes\nagi_network_script: route\n")
    await writer.drain()
    writer.close()
    # Connects and says nothing: dropped by the server within its timeout.
    silent_reader, silent_writer = await asyncio.open_connection(HOST, server.port)
    assert answered(await agi_call(server.port, environment(server.port))) == ('"102"', '"owner"')
    async with asyncio.timeout(SHORT + 30):      # generous: without the server's timeout it would never end
        assert await silent_reader.read() == b""
    silent_writer.close()
    assert answered(await agi_call(server.port, environment(server.port))) == ('"102"', '"owner"')


async def test_garbage_unknown_path_and_flood_are_closed(strict: AgiRouteServer, chooser: Chooser) -> None:
    server = strict
    for payload in (b"\xff\xfe\x00garbage\n\n", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                    "".join(f"{k}: {v}\n" for k, v in environment(server.port, "nowhere").items()).encode() + b"\n",
                    b"agi_x: " + b"y" * 100_000):
        reader, writer = await asyncio.open_connection(HOST, server.port)
        writer.write(payload)
        async with asyncio.timeout(SHORT + 30):
            assert await reader.read() == b""      # closed, without a command
        writer.close()
    assert chooser.requests == []
    assert answered(await agi_call(server.port, environment(server.port))) == ('"102"', '"owner"')


async def test_peer_that_hangs_up_during_the_commands(server: AgiRouteServer) -> None:
    reader, writer = await asyncio.open_connection(HOST, server.port)
    writer.write("".join(f"{k}: {v}\n" for k, v in environment(server.port).items()).encode() + b"\n")
    async with asyncio.timeout(30):
        assert (await reader.readline()).startswith(b"SET VARIABLE")
        writer.write(b"HANGUP\n")
        assert await reader.read() == b""
    writer.close()
    assert answered(await agi_call(server.port, environment(server.port))) == ('"102"', '"owner"')


async def test_fifty_concurrent_requests(server: AgiRouteServer, chooser: Chooser) -> None:
    chooser.delay = 0.02
    exchanges = await asyncio.gather(*(agi_call(server.port, environment(server.port, agi_uniqueid=f"17.{i}"))
                                       for i in range(50)))
    assert all(answered(e) == ('"102"', '"owner"') for e in exchanges)
    assert sorted(r.linkedid for r in chooser.requests) == sorted(f"17.{i}" for i in range(50))


async def test_stop_is_prompt_with_a_connection_open(chooser: Chooser, caplog: pytest.LogCaptureFixture) -> None:
    # The connection would be kept for an hour: only stop() can end it within the test's bound.
    server = AgiRouteServer(chooser, host=HOST, port=0, timeout_seconds=3600)
    await server.start()
    reader, writer = await asyncio.open_connection(HOST, server.port)
    writer.write(b"agi_network: yes\n")
    await writer.drain()
    async with asyncio.timeout(30):
        while not server._connections:      # accepted, and reading the rest of the environment
            await asyncio.sleep(0.01)
        await server.stop()
        try:
            assert await reader.read() == b""
        except ConnectionResetError:
            pass        # closed with our line still unread: a reset, which ends the connection as well
    writer.close()
    with pytest.raises(OSError):
        async with asyncio.timeout(30):
            await asyncio.open_connection(HOST, server.port)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]     # no "Exception in callback"
