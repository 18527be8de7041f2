"""Channel listeners run in the background, each with its own retry, so no peer holds up another.

A listener that holds a connection open (an SMTP port, a mailbox, a bot's long poll) is started in
a task of its own: a Bot API that accepts the connection and never answers leaves Telegram
"connecting" while forms, calls and the API are served. A listener that can run in one process only
(`exclusive`) is started by the process holding its Redis lease; the others stand by and start it
within seconds of the holder dying. Without Redis there is one process, and it runs everything.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from redis.asyncio import Redis

from channels.backoff import Backoff
from channels.plug import Listening
from gateway.leases import Lease

log = logging.getLogger(__name__)

CONNECTING, CONNECTED, DOWN, STANDBY, STOPPED = "connecting", "connected", "down", "standby", "stopped"


@dataclass(frozen=True, slots=True)
class ChannelState:
    state: str
    error: str | None = None

    def as_json(self) -> dict[str, str | None]:
        return {"state": self.state, "error": self.error}


class ListenerRunner:
    """Starts, watches and stops the listeners; `states()` is what /readyz shows."""

    def __init__(self, plugged: Iterable[Listening], *, redis: Redis | None = None, prefix: str = "switchboard:",
                 lease_ttl: float = 6.0, retry_first: float = 1.0, retry_cap: float = 30.0) -> None:
        self._plugged = list(plugged)
        self._redis, self._prefix, self._ttl = redis, prefix, lease_ttl
        self._retry = (retry_first, retry_cap)
        self._states = {p.name: ChannelState(STANDBY if self._leased(p) else CONNECTING) for p in self._plugged}
        self._tasks: list[asyncio.Task[None]] = []
        self._leases: list[Lease] = []

    def _leased(self, plugged: Listening) -> bool:
        return plugged.exclusive and self._redis is not None

    def start(self) -> None:
        """Return at once; every listener connects (or waits for its lease) in its own task."""
        for plugged in self._plugged:
            if self._leased(plugged):
                assert self._redis is not None
                wake = asyncio.Event()

                async def gain(wake: asyncio.Event = wake) -> None:
                    wake.set()

                lease = Lease(self._redis, f"{self._prefix}listener:{plugged.name}", ttl=self._ttl,
                              on_gain=gain, on_loss=gain)
                self._leases.append(lease)
                self._tasks.append(asyncio.create_task(lease.run(), name=f"lease.{plugged.name}"))
                self._tasks.append(asyncio.create_task(self._follow(plugged, lease, wake),
                                                       name=f"listener.{plugged.name}"))
            else:
                self._tasks.append(asyncio.create_task(self._run(plugged), name=f"listener.{plugged.name}"))

    async def stop(self) -> None:
        """Stop every task (a start in progress is abandoned), then every listener, then hand the leases over."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for plugged in reversed(self._plugged):
            await self._stop_one(plugged)
        for lease in self._leases:
            await lease.release()

    def states(self) -> dict[str, ChannelState]:
        return {p.name: self._observed(p) for p in self._plugged}

    def _observed(self, plugged: Listening) -> ChannelState:
        # A listener that reconnects by itself (a mailbox, a bot) reports its own connection.
        state = self._states[plugged.name]
        probe = getattr(plugged.listener, "connected", None)
        if state.state != CONNECTED or probe is None:
            return state
        up = probe.is_set() if isinstance(probe, asyncio.Event) else bool(probe)
        error = getattr(plugged.listener, "last_error", None)
        return ChannelState(CONNECTED) if up else ChannelState(DOWN if error else CONNECTING, error)

    async def _run(self, plugged: Listening) -> None:
        """Start until it starts: a refused bind or an unreachable peer is retried with backoff."""
        backoff = Backoff(*self._retry)
        while True:
            self._states[plugged.name] = ChannelState(CONNECTING, self._states[plugged.name].error)
            try:
                await plugged.listener.start()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"[:300]
                self._states[plugged.name] = ChannelState(DOWN, error)
                log.warning("channel %s not started: %s; retrying", plugged.name, error)
                await self._stop_one(plugged, keep_state=True)
                await backoff.sleep()
                continue
            self._states[plugged.name] = ChannelState(CONNECTED)
            log.info("channel %s started", plugged.name)
            return

    async def _follow(self, plugged: Listening, lease: Lease, wake: asyncio.Event) -> None:
        """Run the listener while this process holds its lease; stand by otherwise."""
        running: asyncio.Task[None] | None = None
        try:
            while True:
                await wake.wait()
                wake.clear()
                if lease.held and running is None:
                    running = asyncio.create_task(self._run(plugged))
                elif not lease.held and running is not None:
                    running.cancel()
                    await asyncio.gather(running, return_exceptions=True)
                    running = None
                    await self._stop_one(plugged)
                    self._states[plugged.name] = ChannelState(STANDBY)
        finally:
            if running is not None:
                running.cancel()
                await asyncio.gather(running, return_exceptions=True)

    async def _stop_one(self, plugged: Listening, *, keep_state: bool = False) -> None:
        try:
            await plugged.listener.stop()
        except Exception:      # one listener failing to close must not keep the others open
            log.exception("channel %s did not stop cleanly", plugged.name)
        if not keep_state and self._states[plugged.name].state != STANDBY:
            self._states[plugged.name] = ChannelState(STOPPED)
