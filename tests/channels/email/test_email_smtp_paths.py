"""MAIL FROM / RCPT TO arguments read the way aiosmtpd reads them, the plain ones without email's header parser."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from aiosmtpd.smtp import SMTP, Session
from hypothesis import example, given, settings
from hypothesis import strategies as st

from channels.email.smtp_handler import _Smtp, plain_path


class _NoHandler:
    pass


PIECES = ["<", ">", "client17@example.ru", "a.b@c.d", "user+tag@sub.example.com", "A@EXAMPLE.RU", "a..b@c.d",
          ".a@b.c", "a@b", "@", "x@[1.2.3.4]", "@route.example:a@b.c", "=?utf-8?q?a?=@b.c", "a=?b@c.d",
          '"quoted local"@b.c', "анна@пример.рф", " ", "  ", "\t", "\x0b", "\x0c", "\u00a0", "(comment)", "(", ")",
          "SIZE=1200", "BODY=8BITMIME", "SMTPUTF8", ",", ";", ":", "\\", "<>"]
ARGS = st.lists(st.sampled_from(PIECES), max_size=7).map("".join)


@settings(max_examples=800, deadline=None)
@given(ARGS)
@example("<client17@example.ru>")
@example("<client17@example.ru> SIZE=1200 BODY=8BITMIME")
@example("<client17@example.ru> \x0b(comment) SIZE=1")
def test_every_argument_reads_as_aiosmtpd_reads_it(arg: str) -> None:
    assert read(_Smtp(_NoHandler()), arg) == read(SMTP(_NoHandler()), arg)


def read(server: SMTP, arg: str) -> object:
    try:
        return server._getaddr(arg)
    except Exception as exc:    # aiosmtpd's own reading fails on some ("<": IndexError): ours must fail alike
        return type(exc)


@pytest.mark.parametrize(("arg", "read"), [
    ("<client17@example.ru>", ("client17@example.ru", "")),
    ("<Sales@Shop.example> SIZE=1200 BODY=8BITMIME", ("Sales@Shop.example", "SIZE=1200 BODY=8BITMIME")),
    ("<user+tag@sub.example.com>\tSMTPUTF8", ("user+tag@sub.example.com", "SMTPUTF8")),
])
def test_the_arguments_senders_write_are_read_directly(arg: str, read: tuple[str, str]) -> None:
    assert plain_path(arg) == read == SMTP(_NoHandler())._getaddr(arg)


@pytest.mark.parametrize("arg", ["<a@b.c> (comment) SIZE=1", "<@route.example:a@b.c>", "<=?utf-8?q?a?=@b.c>",
                                 '<"quoted local"@b.c>', "<анна@пример.рф>", "a@b.c", "<>"])
def test_other_shapes_are_left_to_aiosmtpd(arg: str) -> None:
    assert plain_path(arg) is None


class _Clock:
    """The two loop methods the idle timer uses, with time moved by hand and the timers kept to fire by hand."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[asyncio.TimerHandle] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], None]) -> asyncio.TimerHandle:
        handle = asyncio.TimerHandle(when, callback, (), asyncio.get_running_loop())
        self.timers.append(handle)
        return handle

    def fire(self) -> None:
        """Move to the next live timer and run it."""
        handle = min((h for h in self.timers if not h.cancelled()), key=lambda h: h.when())
        self.timers.remove(handle)
        self.now = handle.when()
        handle._run()


async def test_the_idle_timeout_closes_the_connection_at_its_deadline_after_the_last_command() -> None:
    protocol = _Smtp(object(), timeout=300)
    clock, closed = _Clock(), []
    protocol.loop = clock       # type: ignore[assignment]
    protocol.session = Session(loop=asyncio.get_running_loop())
    protocol.transport = SimpleNamespace(close=lambda: closed.append(clock.now))     # type: ignore[assignment]
    protocol._reset_timeout()                   # connected at 0
    clock.now = 100.0
    protocol._reset_timeout()                   # a command at 100: no new timer, a later deadline
    clock.now = 250.0
    protocol._reset_timeout()                   # another at 250: the deadline is 550
    assert len(clock.timers) == 1
    clock.fire()                                # the first timer (300) finds the deadline moved
    assert closed == [] and clock.now == 300.0
    clock.fire()
    assert closed == [550.0]


async def test_a_shorter_timeout_moves_the_timer_forward() -> None:
    protocol = _Smtp(object(), timeout=300)
    clock, closed = _Clock(), []
    protocol.loop = clock       # type: ignore[assignment]
    protocol.session = Session(loop=asyncio.get_running_loop())
    protocol.transport = SimpleNamespace(close=lambda: closed.append(clock.now))     # type: ignore[assignment]
    protocol._reset_timeout()
    protocol._reset_timeout(5.0)                # as aiosmtpd waits for a PROXY header
    clock.fire()
    assert closed == [5.0]


async def test_an_idle_client_is_disconnected() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Smtp(object(), timeout=0.2), "127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection(*server.sockets[0].getsockname()[:2])
        assert (await reader.readline()).startswith(b"220")
        writer.write(b"NOOP\r\n")
        assert (await reader.readline()).startswith(b"250")
        async with asyncio.timeout(30):
            assert await reader.read() == b""   # closed by the server, not by this side
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
