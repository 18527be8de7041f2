"""DATA read in blocks (channels/email/smtp_data.py) answers as aiosmtpd's own line-by-line read does."""
from __future__ import annotations

import asyncio

from aiosmtpd.smtp import SMTP, Envelope, Session
from hypothesis import example, given, settings
from hypothesis import strategies as st

from channels.email.smtp_data import DataState, read_data
from channels.email.smtp_handler import _Smtp

LINE_LIMIT = 24         # small limits, so that generated mail crosses them (the stream's limit is the line limit)
SIZE_LIMIT = 120


class Kept:
    def __init__(self) -> None:
        self.contents: list[bytes] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.contents.append(envelope.original_content)  # type: ignore[arg-type]
        return "250 OK"


class StockSmall(SMTP):
    line_length_limit = LINE_LIMIT


class OursSmall(_Smtp):
    line_length_limit = LINE_LIMIT


async def converse(server_class: type[SMTP], transcript: bytes, pieces: list[int]) -> tuple[bytes, list[bytes]]:
    """Every reply `server_class` gives to `transcript` (sent in pieces of the given sizes), and the mail it kept."""
    kept = Kept()
    server = await asyncio.get_running_loop().create_server(
        lambda: server_class(kept, data_size_limit=SIZE_LIMIT, enable_SMTPUTF8=True, decode_data=False,
                             hostname="test"), "127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
        rest = transcript
        for size in pieces:
            writer.write(rest[:size])
            await writer.drain()
            rest = rest[size:]
        writer.write(rest)
        # A guard against a hang, not a measurement: QUIT ends every transcript and the server closes.
        replies = await asyncio.wait_for(reader.read(), 30)
        writer.close()
        return replies, kept.contents
    finally:
        server.close()
        await server.wait_closed()


def transcript_of(data: bytes) -> bytes:
    # Commands short enough for the small limit (the stream's, for commands too).
    return b"EHLO c\r\nMAIL FROM:<a@b.ru>\r\nRCPT TO:<s@x.ru>\r\nDATA\r\n" + data + b"\r\n.\r\nQUIT\r\n"


LINES = st.lists(st.lists(st.sampled_from([b"a", b"b", b".", b"\r", b"\n", b"\r\n", b"xyz" * 4]), max_size=12)
                 .map(b"".join), max_size=14).map(b"\r\n".join)
PIECES = st.lists(st.integers(1, 40), max_size=6)


@settings(max_examples=300, deadline=None)
@given(LINES, PIECES)
@example(b"", [])
@example(b".", [])
@example(b"..\r\n.x\r\n..", [])
@example(b"a" * (LINE_LIMIT - 2) + b"\r\n" + b"b" * (LINE_LIMIT - 1), [])     # exactly at, and one over, the limit
@example(b"a" * LINE_LIMIT + b".\r\n.", [5, 30])                              # the end line right after a long one
@example(b"\r\n".join([b"x" * 20] * 6) + b"\r\n" + b"y" * 40, [])           # too much, then too long
@example(b"y" * 40 + b"\r\n" + b"\r\n".join([b"x" * 20] * 6), [])           # too long, then too much
def test_every_transcript_is_answered_as_aiosmtpd_answers_it(data: bytes, pieces: list[int]) -> None:
    transcript = transcript_of(data)

    async def both() -> tuple[object, object]:
        return await converse(OursSmall, transcript, pieces), await converse(StockSmall, transcript, pieces)

    ours, stock = asyncio.run(both())
    assert b"\r\n354 " in stock[0]       # the data was read as data
    assert ours == stock


async def read_in_pieces(stream: bytes, pieces: list[int]) -> tuple[tuple[DataState, bytes], bytes]:
    reader = asyncio.StreamReader(limit=LINE_LIMIT)
    read = asyncio.ensure_future(read_data(reader, LINE_LIMIT, SIZE_LIMIT))
    rest = stream
    for size in pieces:
        reader.feed_data(rest[:size])
        rest = rest[size:]
        await asyncio.sleep(0)      # let the reader take what is there before more comes
    reader.feed_data(rest)
    reader.feed_eof()
    return await read, await reader.read()


@settings(max_examples=300, deadline=None)
@given(LINES, PIECES)
def test_how_the_bytes_arrive_changes_nothing_and_what_follows_the_end_is_left_unread(
        data: bytes, pieces: list[int]) -> None:
    stream = data + b"\r\n.\r\nQUIT\r\n"
    at_once = asyncio.run(read_in_pieces(stream, []))
    assert asyncio.run(read_in_pieces(stream, pieces)) == at_once
    end = stream.find(b".\r\n") if stream.startswith(b".\r\n") else stream.find(b"\r\n.\r\n") + 2
    assert at_once[1] == stream[end + 3:]


def test_dot_stuffing_is_undone_and_a_big_mail_is_read_whole() -> None:
    async def read(stream: bytes) -> tuple[DataState, bytes]:
        reader = asyncio.StreamReader(limit=100_000)
        reader.feed_data(stream)
        return await read_data(reader, 100_000, 25 * 1024 * 1024)

    assert asyncio.run(read(b"..leading\r\n.\r\n")) == (DataState.NOMINAL, b".leading\r\n")
    assert asyncio.run(read(b"a\r\n..\r\n...b\r\n.\r\n")) == (DataState.NOMINAL, b"a\r\n.\r\n..b\r\n")
    attachment = b"".join(b"QUJD" * 19 + b"\r\n" for _ in range(30_000))        # 2.3 MB of base64 lines
    assert asyncio.run(read(attachment + b".\r\n")) == (DataState.NOMINAL, attachment)
