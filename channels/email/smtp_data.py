"""The DATA section of an SMTP transaction read in blocks, with exactly the answers aiosmtpd's line loop gives.

aiosmtpd 1.4 reads DATA one line per `StreamReader.readuntil(b"\\r\\n")`, with a log call, two joins and its
checks on each line: ~4 us a line on the event loop, so a 2 kB multipart mail with a small attachment costs
~0.2 ms before it is parsed, and a 1 MB attachment (13,000 base64 lines) ~50 ms of a loop that every other
connection waits on. Here the stream is read up to the next `.\\r\\n` (one call per line ending in a dot,
usually a handful a mail) and the lines are looked at only when the mail is big enough for one of them to
matter. What aiosmtpd's loop decides depends only on the CRLF-split lines in order, not on how they arrived
(readuntil raises for a line exactly when its content is longer than the stream limit), so this gives the
same outcome: the first line that is exactly "." ends the data; a line longer than `line_limit` (CRLF
included) makes it "too long" (500), the running byte count over `size_limit` "too much" (552), whichever
comes first in aiosmtpd's order; a leading dot is removed from every line. `tests/channels/email/
test_email_smtp_data.py` holds it equal to aiosmtpd's own server over generated transcripts.
"""
from __future__ import annotations

import asyncio
import enum

_DOT_LINE = b".\r\n"


class DataState(enum.Enum):
    NOMINAL = enum.auto()
    TOO_LONG = enum.auto()      # a line over the limit: aiosmtpd answers 500
    TOO_MUCH = enum.auto()      # over the message size limit: 552


class _Reckoning:
    """aiosmtpd's verdict on the data, from its complete lines in order (and the one still arriving)."""

    __slots__ = ("state", "_counted", "_scanned", "_line_limit", "_size_limit")

    def __init__(self, line_limit: int, size_limit: int | None) -> None:
        self.state = DataState.NOMINAL
        self._counted = 0           # aiosmtpd's num_bytes
        self._scanned = 0           # where the next unexamined line starts in the data
        self._line_limit = line_limit
        self._size_limit = size_limit

    def examine(self, data: bytearray) -> None:
        """Account for the lines of `data` (all read so far) completed since the last call."""
        limit, size = self._line_limit, self._size_limit
        start = self._scanned
        last = data.rfind(b"\r\n", start)
        if last >= 0 and (not size or self._counted + last + 2 - start <= size):
            # The usual big mail (an attachment's base64 lines): when none of the new lines is over the limit and
            # their bytes keep the count within the size, they change nothing but the count; split in C.
            if max(map(len, data[start:last].split(b"\r\n"))) + 2 <= limit:
                self._counted += last + 2 - start
                start = last + 2
        while self.state is DataState.NOMINAL:
            end = data.find(b"\r\n", start)
            if end < 0:
                # A line still arriving: once it is surely longer than the limit, aiosmtpd has said so already
                # (its content is at least this minus a possible CR of the CRLF).
                if len(data) - start - 1 > limit:
                    self.state = DataState.TOO_LONG
                break
            length = end + 2 - start
            if length - 2 > limit:
                # readuntil raises for this line: aiosmtpd marks it before counting its bytes.
                self.state = DataState.TOO_LONG
            else:
                self._counted += length
                if size and self._counted > size:
                    self.state = DataState.TOO_MUCH
                elif length > limit:
                    self.state = DataState.TOO_LONG
            start = end + 2
        self._scanned = start


async def read_data(reader: asyncio.StreamReader, line_limit: int,
                    size_limit: int | None) -> tuple[DataState, bytes]:
    """Read DATA up to its end line from `reader` (limit: `line_limit`, as aiosmtpd makes it) and return
    aiosmtpd's verdict and, when NOMINAL, the content without the dot-stuffing (b"" otherwise)."""
    data = bytearray()          # everything read so far, kept only while the verdict is NOMINAL
    tail = b"\r\n"              # the last two bytes read: the DATA command's CRLF before the first line
    reckoning = _Reckoning(line_limit, size_limit)
    while True:
        try:
            chunk = await reader.readuntil(_DOT_LINE)
        except asyncio.LimitOverrunError as overrun:
            # No ".\r\n" within the stream's limit: take what was looked at (the last two bytes stay, in case
            # the end line begins there) and go on.
            chunk = await reader.read(overrun.consumed)
        ends = chunk.endswith(_DOT_LINE) and (tail + chunk[-5:])[-5:-3] == b"\r\n"
        tail = (tail + chunk[-2:])[-2:]
        if reckoning.state is DataState.NOMINAL:
            data += chunk
            if len(data) > line_limit or (size_limit and len(data) > size_limit):
                # Big enough for a line over the limit or for the size limit: look at the lines.
                reckoning.examine(data[:-3] if ends else data)
                if reckoning.state is not DataState.NOMINAL:
                    data.clear()    # as aiosmtpd does, not kept: only the end line is looked for now
        if ends:
            break
    if reckoning.state is not DataState.NOMINAL:
        return reckoning.state, b""
    content = bytes(memoryview(data)[:-3])
    # Transparency (RFC 5321 4.5.2): a line's leading dot was doubled by the sender.
    if b"\r\n." in content:
        content = content.replace(b"\r\n.", b"\r\n")
    if content.startswith(b"."):
        content = content[1:]
    return DataState.NOMINAL, content
