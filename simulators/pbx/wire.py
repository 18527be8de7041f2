"""The simulated PBX's wire: AMI frames out, actions in, one ordered writer per connection, queue members."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulators.pbx.filters import EventFilter
    from simulators.pbx.server import SimulatedPbx

Frame = dict[str, str]
Action = dict[str, Any]          # a received action: a repeated key (Variable) becomes a list


def encode(frame: Mapping[str, str]) -> bytes:
    """One AMI frame: `Key: Value` lines, CRLF, ended by a blank line."""
    return "".join(f"{key}: {value}\r\n" for key, value in frame.items()).encode("utf-8") + b"\r\n"


@dataclass(slots=True)
class Member:
    """A static queue member as QueueStatus / QueueMemberPause describe it."""
    interface: str
    name: str
    paused: bool = False
    reason: str = ""
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = field(default_factory=lambda: int(time.time()))

    def fields(self, queue: str) -> Frame:
        return {"Queue": queue, "MemberName": self.name, "Interface": self.interface,
                "StateInterface": self.interface, "Membership": "static", "Penalty": "0",
                "CallsTaken": str(self.calls_taken), "LastCall": str(self.last_call),
                "LastPause": str(self.last_pause), "LoginTime": str(self.login_time), "InCall": "0", "Status": "1",
                "Paused": "1" if self.paused else "0", "PausedReason": self.reason, "Wrapuptime": "0"}


class Client:
    """One AMI connection: frames go out in order through a queue drained by one writer task."""

    def __init__(self, pbx: SimulatedPbx, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.pbx, self.reader, self.writer = pbx, reader, writer
        self.logged_in = False
        self.events = False
        self.filters: list[EventFilter] = []          # added by the Filter action; gone with the connection
        self.outbox: asyncio.Queue[bytes | None] = asyncio.Queue()

    def send(self, data: bytes) -> None:
        self.outbox.put_nowait(data)

    def close_after_pending(self) -> None:
        self.outbox.put_nowait(None)

    async def write_loop(self) -> None:
        try:
            while True:
                data = await self.outbox.get()
                try:
                    if data is None:
                        return
                    await self._write(data)
                finally:
                    self.outbox.task_done()
        finally:
            self.writer.transport.close()
            # What was never written is lost with the connection: nobody may wait for it (backpressure, flush),
            # also when the writer was cancelled with frames still queued.
            while not self.outbox.empty():
                self.outbox.get_nowait()
                self.outbox.task_done()

    async def _write(self, data: bytes) -> None:
        pieces = self.pbx.chunks(data)
        for chunk in pieces:
            if self.writer.transport.is_closing():
                return            # dropped: what was queued for this connection is lost, as on a real wire
            self.writer.write(chunk)
            try:
                await self.writer.drain()
            except ConnectionError:
                return
            if len(pieces) > 1:
                await asyncio.sleep(0)     # let the reader see this piece on its own


async def read_action(reader: asyncio.StreamReader) -> Action | None:
    """One frame from the client (None at EOF); a repeated key collects its values in a list."""
    action: Action = {}
    while True:
        line = await reader.readline()
        if not line:
            return None
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if not text:
            return action
        key, sep, value = text.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key in action:
            previous = action[key]
            action[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            action[key] = value


def hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
