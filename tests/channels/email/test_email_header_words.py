"""The header shortcuts say exactly what email.headerregistry says, over realistic and nasty headers alike."""
from __future__ import annotations

import base64
import quopri
from datetime import UTC, datetime
from email.parser import BytesParser
from email.utils import getaddresses
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from channels.email import header_words, mail_headers
from channels.email.header_policy import POLICY
from channels.email.mail_headers import MailHeaders, decoded_header, first_address
from channels.email.parse import Automatic, parse_message

CORPUS = Path(__file__).with_name("corpus")


def b_word(text: str, charset: str = "utf-8", marker: str = "b") -> bytes:
    return f"=?{charset}?{marker}?{base64.b64encode(text.encode(charset)).decode()}?=".encode()


def q_word(text: str, charset: str = "utf-8", marker: str = "q") -> bytes:
    encoded = quopri.encodestring(text.encode(charset), header=True).decode()
    return f"=?{charset}?{marker}?{encoded}?=".encode()


NAMES = ["Анна", "Смирнова", "Иван Петрович", "Ёлкин", "Müller", "Smith, John", "J. Smith", 'a"b', "(c)", " Анна",
         "Анна ", "Анна  Смирнова", "=?x", "Анна\tСмирнова", "Анна\u00a0С"]
WORDS = [b_word(n) for n in NAMES] + [q_word(n) for n in NAMES] + [
    b_word("Анна", "koi8-r"), q_word("Смирнова", "koi8-r", "Q"), b_word("Ольга", "windows-1251", "B"),
    q_word("Ольга", "cp1251"), b_word("Ольга", "iso-8859-5"),
    b"=?utf-8?b?0JDQvdC90LA?=",            # padding missing
    b"=?utf-8?b?0JDQvd!C90LA=?=",          # not base64
    b"=?utf-8?b?0JDQvQ==?=",               # half a letter: undecodable UTF-8
    b"=?x-unknown?b?0JDQvdC90LA=?=", b"=?utf-8*ru?b?0JDQvdC90LA=?=", b"=?unknown-8bit?q?=D0=90?=",
    b"=?utf-8?q?=zz?=", b"=?utf-8?q??=", b"=?utf-8?Q?=D0=90=D0=BD=D0=BD=D0=B0_=D0=A1?=", b"=?utf-8?b??=",
    b"=?utf-8?x?abc?=", b"=?utf-8?b?0JDQvdC90LA=?=x", b"x=?utf-8?b?0JDQvdC90LA=?=", b"=?utf-8?q?a?b?=",
]
PIECES = WORDS + [
    b"Client", b"17", b"Ivan", b"O'Brien", b"a=b", b"x=?y", b"=?", b"?=", b"sales",
    b'"Smith, John"', b'"Ivanov I.I."', b'"a\\"b"', b'"' + b_word("Анна") + b'"', b'""', b'"unterminated',
    b"(comment)", b"(nested (c))", b"(", b")",
    b"<", b">", b"@", b",", b", ", b":", b";", b".", b"[", b"]", b"\\",
    b"client17@example.ru", b"<client17@example.ru>", b"a.b@c.d", b"user+tag@sub.example.com", b"<>",
    b"x@[1.2.3.4]", b"<a@b.c>", b"a..b@c.d", b".a@b.c", b"a@b", b"A@EXAMPLE.RU", b"no-reply@shop.example",
    b"mailer-daemon@x.ru", b"a=?b@c.d", b"undisclosed-recipients:;", b"team: a@b.c, d@e.f;",
    b" ", b"  ", b"\t", b"\r\n ", b"\r\n\t",
    "Анна".encode(), "Анна".encode("cp1251"), b"\xff", b"\xef\xbf\xbd",
    b"<bench-1@example.ru>", b"<a@b", b"<a b@c>", b"<a@b.c> <d@e.f>",
    b"Mon, 7 Dec 2026 01:02:03 +0300", b"7 Dec 2026 01:02 GMT", b"Mon, 31 Feb 2026 01:02:03 +0300",
    b"Thu, 01 Jan 1970 00:00:00 -0000", b"Sun, 06 Dec 2026 25:61:00 +0000", b"Fri, 9 Jan 10000 1:2:3 +0000",
    b"\x00", b"\x07", b"\x7f", b"\x0b", b"\x0c",
]
# Mailboxes as senders write them, folded and listed: most take the shortcut, some must not.
PHRASES = st.lists(st.sampled_from(WORDS + [b"Client", b"17", b"O'Brien", b'"Smith, John"', b"(c)"]), min_size=1,
                   max_size=3).map(b" ".join)
ADDRESSES = st.sampled_from([b"client17@example.ru", b"a.b@c.d", b"user+tag@sub.example.com", b"A@EXAMPLE.RU",
                             b"no-reply@shop.example", b"x@[1.2.3.4]", b"a..b@c.d", b"bad@", b"a=?b@c.d"])
MAILBOX = st.one_of(ADDRESSES, ADDRESSES.map(lambda a: b"<" + a + b">"),
                    st.tuples(PHRASES, st.sampled_from([b" ", b"", b"  ", b"\r\n ", b"\t"]), ADDRESSES).map(
                        lambda t: t[0] + t[1] + b"<" + t[2] + b">"))
MAILBOXES = st.lists(MAILBOX, min_size=1, max_size=3).map(b", ".join)
MESSAGE_IDS = st.lists(st.sampled_from([b"<bench-1@example.ru>", b"<CAF=x+y_z@mail.gmail.com>", b"<a..b@c.d>", b"<a@b",
                                       b"<a@[1.2.3.4]>", b"<=?utf-8?q?x?=@b.c>", b"(c)", b" ", b"\t", b"\r\n "]),
                       min_size=1, max_size=3).map(b"".join)
VALUES = st.one_of(st.lists(st.sampled_from(PIECES), max_size=8).map(b"".join), MAILBOXES, MESSAGE_IDS)

HEADER_NAMES = ["from", "to", "reply-to", "subject", "message-id", "date", "references", "in-reply-to",
                "return-path", "auto-submitted"]
THOROUGH = settings(max_examples=600, deadline=None)


def message_with(name: str, value: bytes):  # type: ignore[no-untyped-def]
    return BytesParser(policy=POLICY).parsebytes(name.encode() + b": " + value + b"\r\n\r\nhi\r\n")


def raw_value(name: str, value: bytes) -> str:
    """The value as the parser keeps it and hands it to the registry (8-bit bytes as surrogates, unfolded)."""
    return header_words.unfolded(next(v for k, v in message_with(name, value).raw_items() if k.lower() == name))


def assert_same(name: str, value: bytes) -> None:
    """MailHeaders (shortcuts first) and the registry's reading agree on `name: value`."""
    message = message_with(name, value)
    registry = decoded_header(message, name)
    headers = MailHeaders(message)
    assert headers.text(name) == registry
    assert headers.first_address(name) == first_address(registry)
    assert headers.addresses(name) == [a for _, a in getaddresses([registry]) if a]


@THOROUGH
@given(st.sampled_from(HEADER_NAMES), VALUES)
@example("from", b_word("Анна") + b" " + b_word("Смирнова") + b" <anna@example.ru>")
@example("subject", b_word("Заявка") + b"\r\n " + b_word(" на доставку") + b" 17")
@example("to", b"sales@shop.example, " + q_word("Отдел продаж") + b" <Info@Shop.example>")
def test_every_header_reads_as_the_registry_reads_it(name: str, value: bytes) -> None:
    assert_same(name, value)


REALISTIC = [
    ("from", b"Client 17 <client17@example.ru>"),
    ("from", b_word("Анна Смирнова") + b" <anna.smirnova@example.ru>"),
    ("from", b_word("Анна") + b"\r\n " + b_word("Смирнова") + b" <anna@example.ru>"),
    ("from", q_word("Ольга", "koi8-r") + b" <olga@client.ru>"),
    ("from", b"ivan@example.ru"),
    ("reply-to", b"<olga@client.ru>"),
    ("to", b"sales@shop.example, Info <info@shop.example>"),
    ("subject", b_word("Заявка на доставку") + b" 17"),
    ("subject", b"Re: [#123] Order"),
    ("subject", q_word("Вопрос", "windows-1251")),
    ("message-id", b"<bench-17@example.ru>"),
    ("message-id", b"  <CAF=x+y_z@mail.gmail.com>"),
    ("references", b"<a@b.c>\r\n <d@e.f>"),
    ("date", b"Mon, 7 Dec 2026 01:02:03 +0300"),
    ("date", b"7 Dec 2026 01:02 GMT"),
]


@pytest.mark.parametrize(("name", "value"), REALISTIC)
def test_the_shapes_real_mail_has_take_the_shortcut(name: str, value: bytes) -> None:
    assert_same(name, value)
    raw = raw_value(name, value)
    if name in ("from", "reply-to", "to"):
        assert header_words.mailboxes(raw)
    else:
        shortcut = {"message-id": header_words.message_id, "date": header_words.date}.get(name,
                                                                                         header_words.unstructured)
        assert shortcut(raw)


@pytest.mark.parametrize("value", [
    b'"Smith, John" <john@example.com>', b"John (the boss) <john@example.com>", b"team: a@b.c, d@e.f;",
    b_word("Smith, John") + b" <john@example.com>", b"=?x-unknown?b?0JDQvdC90LA=?= <a@b.c>",
    "Анна <anna@example.ru>".encode(), b"<a@[1.2.3.4]>",
])
def test_other_address_shapes_go_to_the_registry(value: bytes) -> None:
    assert header_words.mailboxes(raw_value("from", value)) is None
    assert_same("from", value)


def without_shortcuts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mail_headers, "_shortcut", lambda name: None)
    monkeypatch.setattr(header_words, "mailboxes", lambda value: None)


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*.eml")))
def test_the_corpus_parses_to_the_same_contacts_with_and_without_shortcuts(name: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    raw = (CORPUS / name).read_bytes()

    def parsed() -> object:
        try:
            return parse_message(raw, region="RU", recipient="sales@shop.example",
                                 received_at=datetime(2026, 12, 7, tzinfo=UTC))
        except Automatic as reason:
            return f"automatic: {reason}"

    fast = parsed()
    without_shortcuts(monkeypatch)
    assert parsed() == fast
