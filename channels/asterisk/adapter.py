"""The voice adapter: one AMI connection through panoramisk, kept alive, reconciled, fed to the tracker.

panoramisk's traps (docs/pitfalls.md) and what is done about each here:
- `connect()` returns before the login and a refused login raises nothing: we watch the login's
  future, report the refusal and retry with backoff;
- a callback that raises kills the connection: ours catches everything;
- Pings are never timed out: our watchdog times them out and drops the connection, which panoramisk
  then re-opens (after our backoff, not its fixed delay);
- a UTF-8 character split across two reads is dropped: the protocol below decodes incrementally.
"""
from __future__ import annotations

import asyncio
import codecs
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from channels.asterisk.config import AmiConfig
from channels.backoff import Backoff
from channels.asterisk.devices import looks_like_extension
from channels.asterisk.events import (
    PANORAMISK_EVENTS, EventSink, event_name, filter_actions, manager_conf_lines, parse_event,
)
from channels.asterisk.tracker import CallTracker, Origination
from channels.asterisk.types import CallEnded, CallEvent, Direction, CallOutcome

log = logging.getLogger(__name__)

NEVER = 10 ** 6      # panoramisk's own pinger: replaced by the watchdog


class PbxUnavailable(Exception):
    """No logged-in AMI connection: an action cannot be carried out now."""


class Utf8Protocol(AMIProtocol):
    """AMIProtocol that keeps a multi-byte character cut by a TCP read until its last byte arrives, and hands
    the events the tracker reads straight to it as plain dicts (events.py): panoramisk's `Message` and its
    dispatch cost more than the tracker itself, so only action replies (and events that carry an ActionID)
    take that way; events the tracker does not read are dropped unparsed."""

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._pending = ""

    def data_received(self, data: bytes) -> None:
        text = self._decoder.decode(data)
        if not text:
            return
        if self.version is None and text.startswith("Asterisk Call Manager/"):
            self.version = text.partition("\r\n")[0].partition("/")[2].strip()
        *frames, self._pending = (self._pending + text).split("\r\n\r\n")
        on_event: EventSink | None = getattr(self.factory, "on_event", None)
        for raw in frames:
            raw = raw.strip()
            if (on_event is not None and raw.startswith("Event: ") and "\r\nActionID: " not in raw
                    and event_name(raw) not in PANORAMISK_EVENTS):
                event = parse_event(raw)
                if event is not None:
                    on_event(event)
                continue
            message = Message.from_line(raw)
            if message is not None:
                self.handle_message(message)


class BackoffManager(Manager):  # type: ignore[misc]
    """panoramisk reconnects after a fixed delay; this one backs off (jittered) after each failure."""

    def __init__(self, *, reconnect_min: float, reconnect_max: float, on_event: EventSink | None = None,
                 **config: Any) -> None:
        super().__init__(**config)
        self._backoff = Backoff(reconnect_min, reconnect_max)
        self.on_event = on_event          # the events the tracker reads, parsed by Utf8Protocol

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        # The delay applies if this attempt fails, or if the connection it opens is lost later.
        self.reconnect_timeout = self._backoff.next()
        return super().connect(*args, **kwargs)

    def reset_backoff(self) -> None:
        self._backoff.reset()
        self.reconnect_timeout = self._backoff.first


class AmiAdapter:
    """Calls in progress as normalized events (`on_event`), and the actions operators need."""

    def __init__(self, config: AmiConfig, on_event: Callable[[CallEvent], None], *,
                 is_agent: Callable[[str], bool] = looks_like_extension) -> None:
        self.config = config
        self.tracker = CallTracker(region=config.region, is_agent=is_agent)
        self.logged_in = asyncio.Event()
        self.status = "not started"
        self.logins = 0
        self._on_event = on_event
        self._manager: BackoffManager | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reconciling = False
        self._filter_refusal_logged = False

    async def start(self) -> None:
        """Begin connecting; returns at once (the PBX may be down: we keep trying in the background)."""
        c = self.config
        self._manager = BackoffManager(
            host=c.host, port=c.port, username=c.username, secret=c.secret, events="on", encoding="utf8",
            ping_delay=NEVER, ping_interval=NEVER, reconnect_min=c.reconnect_min, reconnect_max=c.reconnect_max,
            protocol_factory=Utf8Protocol, loop=asyncio.get_running_loop(), forgetable_actions=("ping", "login"),
            on_connect=self._connected, on_login=self._logged_in, on_disconnect=self._disconnected,
            on_event=self._feed)
        self._manager.register_event("*", self._dispatch)
        self.status = "connecting"
        self._manager.connect()
        self._spawn(self._watchdog())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._manager is not None:
            self._manager.reconnect_timeout = NEVER     # the close below must not be followed by a reconnect
            self._manager.close()
        self.logged_in.clear()
        self.status = "stopped"

    def resync(self) -> None:
        """Forget what the tracker knows and rebuild the calls in progress from the PBX, reporting them anew."""
        self.tracker = CallTracker(region=self.config.region, is_agent=self.tracker.is_agent)
        if self._manager is not None and self.logged_in.is_set():
            self._spawn(self._reconcile(self._manager))

    # -- actions -----------------------------------------------------------------------------------

    async def originate(self, extension: str, number: str, *, lead_id: int | None = None,
                        caller_name: str | None = None) -> str:
        """Ring the operator's phone, then dial the client from it; returns the call id at once."""
        manager = self._ready()
        call_id = f"sb-{uuid.uuid4().hex}"
        self.tracker.expect_origination(call_id, Origination(extension, number, lead_id))
        shown = (caller_name or number).replace('"', "").replace("\n", " ")[:60]
        future = manager.send_action({
            "Action": "Originate", "Channel": self.config.device_of(extension),
            "Context": self.config.outbound_context, "Exten": number, "Priority": "1",
            "CallerID": f'"{shown}" <{number}>', "Async": "true", "ChannelId": call_id,
            "Timeout": str(int(self.config.originate_timeout * 1000)),
            "Variable": [f"SWITCHBOARD_LEAD={lead_id or ''}", f"SWITCHBOARD_NUMBER={number}"]})
        self._spawn(self._watch_origination(call_id, extension, number, future))
        return call_id

    async def queue_pause(self, extension: str, paused: bool, reason: str | None = None) -> bool:
        """Pause or resume the operator in every queue they belong to; False if they belong to none."""
        manager = self._ready()
        action = {"Action": "QueuePause", "Interface": self.config.device_of(extension),
                  "Paused": "true" if paused else "false"}
        if reason:
            action["Reason"] = reason
        reply = await asyncio.wait_for(manager.send_action(action), self.config.action_timeout)
        if not reply.success:
            log.info("QueuePause %s refused by the PBX: %s", extension, reply.get("Message"))
        return bool(reply.success)

    def _ready(self) -> BackoffManager:
        if self._manager is None or not self.logged_in.is_set():
            raise PbxUnavailable(f"not connected to the PBX ({self.status})")
        return self._manager

    async def _watch_origination(self, call_id: str, extension: str, number: str, future: Any) -> None:
        try:
            reply = await asyncio.wait_for(future, self.config.originate_timeout + 30)
        except (TimeoutError, asyncio.CancelledError):
            return
        last = reply[-1] if isinstance(reply, list) else reply
        if last.get("Response") in ("Success", "Follows") or not self.tracker.forget_origination(call_id):
            return      # went through, or failed after its channels appeared (the tracker reports that)
        reason = last.get("Message") or f"reason {last.get('Reason', '?')}"
        log.warning("click-to-call %s from %s to %s failed: %s", call_id, extension, number, reason)
        now = self.tracker.clock()
        self._deliver(CallEnded(call_id, now, Direction.OUTBOUND, CallOutcome.FAILED, 0.0, 0.0, None, reason, None,
                                None, (), None, number))

    # -- connection ----------------------------------------------------------------------------------

    def _connected(self, manager: BackoffManager) -> None:
        self.status = "logging in"
        login = manager.authenticated_future
        if login is not None:
            login.add_done_callback(lambda f: self._login_answered(manager, f))

    def _login_answered(self, manager: BackoffManager, future: asyncio.Future[Message]) -> None:
        if future.cancelled() or future.exception() is not None:
            return
        reply = future.result()
        if not reply.success:
            self.status = f"login refused: {reply.get('Message') or 'no reason given'}"
            log.error("AMI %s:%s: %s (check [ami] username and secret); retrying in %ss",
                      self.config.host, self.config.port, self.status, manager.reconnect_timeout)
            transport = getattr(manager.protocol, "transport", None)
            if transport is not None:
                transport.close()     # Asterisk hangs up after a refusal anyway; either way we retry later

    def _logged_in(self, manager: BackoffManager) -> None:
        manager.reset_backoff()
        self.logins += 1
        self.status = "connected"
        self.logged_in.set()
        log.info("AMI %s:%s logged in as %s", self.config.host, self.config.port, self.config.username)
        self._spawn(self._filter_then_reconcile(manager))

    async def _filter_then_reconcile(self, manager: BackoffManager) -> None:
        await self._filter_events(manager)
        await self._reconcile(manager)

    async def _filter_events(self, manager: BackoffManager) -> None:
        """Ask the PBX for only the events the tracker reads (events.py); without it they are dropped here."""
        futures = [manager.send_action(action) for action in filter_actions()]
        try:
            replies = await asyncio.wait_for(asyncio.gather(*futures), self.config.action_timeout)
        except TimeoutError:
            log.warning("AMI did not answer the event filters; unfiltered events are dropped here instead")
            return
        refused = next((r for r in replies if not r.success), None)
        if refused is not None and not self._filter_refusal_logged:
            self._filter_refusal_logged = True
            log.warning("AMI refused an event filter (%s): Asterisk sends every event and this process drops most "
                        "of them. Give the AMI user `write = system`, or add to its manager.conf section:\n%s",
                        refused.get("Message") or "no reason given", "\n".join(manager_conf_lines()))

    def _disconnected(self, manager: BackoffManager, exc: Any) -> None:
        self.logged_in.clear()
        if not self.status.startswith("login refused"):
            self.status = "disconnected"
        log.warning("AMI connection lost; reconnecting in %ss", manager.reconnect_timeout)

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(self.config.ping_interval)
            manager = self._manager
            if manager is None or not self.logged_in.is_set():
                continue
            try:
                await asyncio.wait_for(manager.send_action({"Action": "Ping"}), self.config.ping_timeout)
            except TimeoutError:
                log.warning("AMI did not answer a Ping within %ss: reconnecting", self.config.ping_timeout)
                self.logged_in.clear()
                transport = getattr(manager.protocol, "transport", None)
                if transport is not None:
                    transport.abort()

    async def _reconcile(self, manager: BackoffManager) -> None:
        """Ask what is live now and bring the tracker in line: calls that began or ended while we were away."""
        mark = self.tracker.begin_reconcile()
        try:
            timeout = self.config.action_timeout
            channels = await asyncio.wait_for(manager.send_action({"Action": "CoreShowChannels"}, as_list=True), timeout)
            status = await asyncio.wait_for(manager.send_action({"Action": "QueueStatus"}, as_list=True), timeout)
        except TimeoutError:
            log.warning("AMI reconciliation timed out; calls are tracked from events only")
            self.tracker.end_reconcile()
            return
        live = [m for m in _listed(channels) if m.get("Event") == "CoreShowChannel"]
        entries = [m for m in _listed(status) if m.get("Event") == "QueueEntry"]
        members = [m for m in _listed(status) if m.get("Event") == "QueueMember"]
        for event in self.tracker.reconcile(mark, live, entries, members):
            self._deliver(event)
        log.info("AMI reconciled: %d live channels, %d waiting in queues", len(live), len(entries))

    # -- events -----------------------------------------------------------------------------------

    def _dispatch(self, manager: BackoffManager, message: Message) -> None:
        self._feed(message)

    def _feed(self, message: Mapping[str, Any]) -> None:
        # An exception escaping here would tear the connection down mid-read.
        try:
            for event in self.tracker.feed(message):
                self._deliver(event)
        except Exception:
            log.exception("AMI event could not be handled: %r", dict(message))

    def _deliver(self, event: CallEvent) -> None:
        try:
            self._on_event(event)
        except Exception:
            log.exception("call event consumer failed on %r", event)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _listed(reply: Any) -> list[Message]:
    return list(reply) if isinstance(reply, list) else [reply]
