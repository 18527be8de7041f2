"""MAIL FROM / RCPT TO arguments read the way aiosmtpd reads them, the plain ones without email's header parser."""
from __future__ import annotations

import pytest
from aiosmtpd.smtp import SMTP
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
