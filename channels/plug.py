"""How a channel plugs into the service: one `build(section, context)` per channel returns its parts.

Gateway keeps a registry of these functions by settings section and wires whatever they return;
it knows nothing else of any channel.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from channels.types import Emit, Responder


class Listener(Protocol):
    """A channel that holds connections open: a bot polling, an SMTP server, a mailbox."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Listening:
    """A listener, its name on /readyz, and whether only one process at a time may run it."""

    name: str
    listener: Listener
    exclusive: bool = False      # binds a port, reads a mailbox, long-polls a bot: one owner


@dataclass(frozen=True, slots=True)
class BuildContext:
    """What every channel may need from the service around it."""

    emit: Emit
    region: str                                 # how national phone numbers are read
    storage_dir: Path                           # where a channel keeps its own state (IMAP UIDs)
    trusted_proxies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChannelParts:
    routes: tuple[web.RouteDef, ...] = ()
    responders: tuple[Responder, ...] = ()
    listeners: tuple[Listening, ...] = field(default=())


Build = Callable[[Any, BuildContext], ChannelParts]
"""A channel's `build`: its settings section (a model of its config.py, checked at load) -> its parts."""
