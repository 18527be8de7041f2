"""An Asterisk PBX on 127.0.0.1 that speaks the real AMI wire protocol: the demo's phone system and the tests' peer.

It answers the actions the voice adapter uses (Login, Ping, Filter, CoreShowChannels, QueueStatus, QueuePause,
Originate, Logoff) the way Asterisk 22 does, and plays calls: real recordings replayed with fresh ids
(`replay`) and synthetic scenarios the recordings do not show (scenarios.py). Its own view of what is
live is tracked from the frames it sends, so a client that reconnects mid-call can reconcile against it.
"""
from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from simulators.pbx import originations, recordings, scenarios, transfers
from simulators.pbx.filters import EventFilter, FilterRefused, passes
from simulators.pbx.wire import Action, Client, Frame, Member, encode, hms, read_action

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
DEFAULT_QUEUES: Mapping[str, Sequence[tuple[str, str]]] = {
    "sales": (("PJSIP/101", "Agent 101"), ("PJSIP/102", "Agent 102")), "support": ()}
AMI_DIR = Path(__file__).resolve().parent / "recordings"      # package data: real Asterisk 22.10 traffic
# The fields CoreShowChannel reports that channel events also carry (kept up to date from those events).
_CHANNEL_FIELDS = ("Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName", "ConnectedLineNum",
                   "ConnectedLineName", "Language", "AccountCode", "Context", "Exten", "Priority", "Uniqueid",
                   "Linkedid")
_WAITER_FIELDS = ("Channel", "Uniqueid", "CallerIDNum", "CallerIDName", "ConnectedLineNum", "ConnectedLineName",
                  "Linkedid")


class SimulatedPbx:
    """`async with SimulatedPbx(...) as pbx:` listens on 127.0.0.1:`pbx.port`.

    Time: `speed=None` replays recordings as fast as possible and sleeps only the ring/talk/wait seconds a
    scenario is given explicitly (they default to 0); a number scales every duration (1.0 = real time).
    `queues` maps a queue to its (interface, member name) pairs; `originate_outcome` is "answered",
    "operator_no_answer", "operator_busy" or "client_no_answer". `system_write=False` is an AMI user without
    `write = system` in manager.conf: Asterisk refuses its `Filter` actions.
    """

    def __init__(self, *, username: str = "switchboard", secret: str = "secret", speed: float | None = None,
                 split_writes: bool = False, seed: int = 1,
                 queues: Mapping[str, Sequence[tuple[str, str]]] | None = None,
                 originate_ring_seconds: float = 0.0, originate_talk_seconds: float = 0.0,
                 originate_outcome: str = "answered", ami_dir: Path | None = None, system_write: bool = True) -> None:
        self.system_write = system_write
        self.username, self.secret, self.speed, self.split_writes = username, secret, speed, split_writes
        self.rng = random.Random(seed)
        self.ami_dir = ami_dir or AMI_DIR
        self.originate_ring_seconds, self.originate_talk_seconds = originate_ring_seconds, originate_talk_seconds
        self.originate_outcome = originate_outcome
        self.queues: dict[str, list[Member]] = {
            q: [Member(interface, name) for interface, name in members]
            for q, members in (DEFAULT_QUEUES if queues is None else queues).items()}
        self.actions: list[Action] = []
        self.connections = 0
        self.logins = 0
        self.port = 0
        self.channels: dict[str, Frame] = {}                 # live channels by Uniqueid, as CoreShowChannel shows them
        self.waiting: dict[str, dict[str, Frame]] = {}       # queue -> Uniqueid -> QueueCallerJoin fields
        self._born: dict[str, float] = {}
        self._ids = itertools.count(1)
        self._channel_seq = itertools.count(0x40)
        self._started = time.time()
        self._clients: set[Client] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sessions: set[asyncio.Task[Any]] = set()      # one per connection
        self._server: asyncio.Server | None = None
        self._hung = False
        self._login_changed = asyncio.Condition()

    # -- lifecycle ---------------------------------------------------------------------------------

    async def __aenter__(self) -> SimulatedPbx:
        await self.start()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.close()
        self.drop()
        await asyncio.gather(*self._tasks, *self._sessions, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        """Run a call in the background (the PBX keeps it going whatever happens to the connections)."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- ids and time ------------------------------------------------------------------------------

    def new_uniqueid(self) -> str:
        """`epoch.sequence` as Asterisk writes them; the sequence is PBX-wide, so ids never repeat."""
        return f"{int(time.time())}.{next(self._ids)}"

    def new_channel_suffix(self) -> str:
        return f"{next(self._channel_seq):08x}"

    async def pause(self, seconds: float) -> None:
        """Sleep `seconds` of call time: scaled by `speed`; at speed None only durations a caller asked for."""
        if seconds > 0:
            await asyncio.sleep(seconds / (self.speed or 1.0))

    # -- transport tricks for tests ----------------------------------------------------------------

    def chunks(self, data: bytes) -> list[bytes]:
        """The frame as written: whole, or (split_writes) in small random pieces, one cut inside a UTF-8 character."""
        if not self.split_writes or len(data) < 2:
            return [data]
        cuts = {i for i in range(1, len(data)) if self.rng.random() < 0.15}
        multibyte = next((i for i, byte in enumerate(data) if byte >= 0xC0), None)
        if multibyte is not None:
            cuts.add(multibyte + 1)       # between a lead byte and its continuation byte
        edges = [0, *sorted(cuts), len(data)]
        return [data[a:b] for a, b in zip(edges, edges[1:]) if b > a]

    def inject_garbage(self) -> None:
        """Junk between frames: binary bytes, lines without a colon, an empty frame, a 100 KB line."""
        junk = [b"\x00\xff\xfe garbage\r\n\r\n", b"this line has no colon\r\n\r\n", b"\r\n\r\n",
                b"X-Huge: " + b"x" * 100_000 + b"\r\n\r\n"]
        for client in self._listeners():
            for piece in junk:
                client.send(piece)

    def drop(self) -> None:
        """Abort every client connection at once; calls in progress go on."""
        for client in list(self._clients):
            client.writer.transport.abort()
        self._clients.clear()

    def hang(self) -> None:
        """Stop answering anything (Ping included) and sending events, with the sockets left open."""
        self._hung = True

    def unhang(self) -> None:
        self._hung = False

    async def wait_logged_in(self, n: int = 1) -> None:
        """Until `n` logins in total have succeeded."""
        async with self._login_changed:
            await self._login_changed.wait_for(lambda: self.logins >= n)

    async def backpressure(self, backlog: int = 32) -> None:
        """Wait while some connection has more than `backlog` frames unwritten, so that many calls played at
        once go at the reader's pace and an action's reply is never stuck behind thousands of events."""
        for client in list(self._clients):
            if client.outbox.qsize() > backlog:
                await client.outbox.join()
        await asyncio.sleep(0)

    async def flush(self) -> None:
        """Until every frame queued so far has been written to every connection."""
        await asyncio.gather(*(c.outbox.join() for c in list(self._clients)))

    # -- events ------------------------------------------------------------------------------------

    def emit(self, frame: Frame) -> None:
        """Send an event to every logged-in connection with events on, after noting what it changes."""
        self._track(frame)
        data = encode(frame)
        text: str | None = None
        for client in self._listeners():
            if client.filters:
                text = data.decode("utf-8") if text is None else text
                if not passes(client.filters, frame, text):
                    continue
            client.send(data)

    def _listeners(self) -> list[Client]:
        if self._hung:
            return []
        return [c for c in self._clients if c.logged_in and c.events]

    def _track(self, ev: Frame) -> None:
        kind, uid = ev.get("Event", ""), ev.get("Uniqueid", "")
        if kind == "Newchannel":
            self.channels[uid] = {k: ev.get(k, "") for k in _CHANNEL_FIELDS} | {
                "Application": "", "ApplicationData": "", "BridgeId": ""}
            self._born[uid] = time.monotonic()
        elif uid in self.channels and kind in ("Newstate", "NewCallerid", "NewConnectedLine", "Newexten"):
            self.channels[uid].update({k: ev[k] for k in _CHANNEL_FIELDS if k in ev and k != "Linkedid"})
            if kind == "Newexten":
                self.channels[uid].update(Application=ev.get("Application", ""),
                                          ApplicationData=ev.get("AppData", ""))
        elif uid in self.channels and kind in ("BridgeEnter", "BridgeLeave"):
            self.channels[uid]["BridgeId"] = ev.get("BridgeUniqueid", "") if kind == "BridgeEnter" else ""
        elif kind == "Hangup":
            self.channels.pop(uid, None)
            self._born.pop(uid, None)
            for waiting in self.waiting.values():
                waiting.pop(uid, None)
        elif kind == "QueueCallerJoin":
            self.waiting.setdefault(ev.get("Queue", ""), {})[uid] = {k: ev.get(k, "") for k in _WAITER_FIELDS} | {
                "Joined": str(time.monotonic())}
        elif kind in ("QueueCallerLeave", "QueueCallerAbandon"):
            self.waiting.get(ev.get("Queue", ""), {}).pop(uid, None)

    # -- connections -------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = Client(self, reader, writer)
        session = asyncio.current_task()
        if session is not None:
            self._sessions.add(session)
            session.add_done_callback(self._sessions.discard)
        self.connections += 1
        self._clients.add(client)
        writer_task = asyncio.create_task(client.write_loop())
        client.send(BANNER)
        try:
            while (action := await read_action(reader)) is not None:
                if action and not self._hung:
                    self.actions.append(action)
                    if not await self._handle(client, action):
                        break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            self._clients.discard(client)
            client.close_after_pending()       # a refusal or a Goodbye is written before the close
            try:
                await asyncio.wait_for(writer_task, 1.0)
            except (TimeoutError, asyncio.CancelledError):
                writer.transport.abort()

    async def _handle(self, client: Client, action: Action) -> bool:
        """Answer one action; False ends the connection (after what was queued is written)."""
        name = str(action.get("Action", "")).lower()
        if not name:
            self._reply(client, action, "Error", Message="Missing action in request")
        elif name == "login":
            return await self._login(client, action)
        elif name == "logoff":
            self._reply(client, action, "Goodbye", Message="Thanks for all the fish.")
            return False
        elif not client.logged_in:
            self._reply(client, action, "Error", Message="Permission denied")
        else:
            handler = self._handlers().get(name)
            if handler is None:
                self._reply(client, action, "Error", Message=f"Invalid/unknown command: {action.get('Action')}. "
                            "Use Action: ListCommands to show available commands.")
            else:
                handler(client, action)
        return True

    async def _login(self, client: Client, action: Action) -> bool:
        if action.get("Username") != self.username or action.get("Secret") != self.secret:
            self._reply(client, action, "Error", Message="Authentication failed")
            return False          # Asterisk hangs up on a failed login
        client.logged_in = True
        client.events = str(action.get("Events", "on")).lower() not in ("off", "no", "false", "0")
        self._reply(client, action, "Success", Message="Authentication accepted")
        if client.events:
            uptime = str(int(time.time() - self._started))
            client.send(encode({"Event": "FullyBooted", "Privilege": "system,all", "Uptime": uptime,
                                "LastReload": uptime, "Status": "Fully Booted"}))
        self.logins += 1
        async with self._login_changed:
            self._login_changed.notify_all()
        return True

    def _reply(self, client: Client, action: Action, response: str, **fields: str) -> None:
        frame: Frame = {"Response": response}
        if "ActionID" in action:
            frame["ActionID"] = str(action["ActionID"])
        client.send(encode(frame | fields))

    def _list(self, client: Client, action: Action, message: str, items: list[Frame], complete: str) -> None:
        """A list action's answer: the start, one event per item, the Complete event (all with the ActionID)."""
        action_id = {"ActionID": str(action["ActionID"])} if "ActionID" in action else {}
        self._reply(client, action, "Success", EventList="start", Message=message)
        for item in items:
            client.send(encode({"Event": item.pop("Event"), **action_id, **item}))
        client.send(encode({"Event": complete, **action_id, "EventList": "Complete",
                            "ListItems": str(len(items))}))

    def _handlers(self) -> dict[str, Callable[[Client, Action], None]]:
        return {"ping": self._ping, "filter": self._filter, "coreshowchannels": self._core_show_channels, "queuestatus": self._queue_status,
                "queuepause": self._queue_pause, "originate": self._originate}

    # -- actions -----------------------------------------------------------------------------------

    def _ping(self, client: Client, action: Action) -> None:
        self._reply(client, action, "Success", Ping="Pong", Timestamp=f"{time.time():.6f}")

    def _filter(self, client: Client, action: Action) -> None:
        """This connection's event filters, as Asterisk's `Filter` action adds them (filters.py)."""
        if not self.system_write:
            self._reply(client, action, "Error", Message="Permission denied")
            return
        if str(action.get("Operation", "")).lower() != "add":
            self._reply(client, action, "Error", Message="Unknown operation")
            return
        try:
            added = EventFilter.parse(str(action.get("MatchCriteria", "")), str(action.get("Filter", "")))
        except FilterRefused as refused:
            self._reply(client, action, "Error", Message=str(refused))
            return
        client.filters.append(added)
        self._reply(client, action, "Success", Message="Success")

    def _core_show_channels(self, client: Client, action: Action) -> None:
        items = [{"Event": "CoreShowChannel", **ch,
                  "Duration": hms(time.monotonic() - self._born.get(uid, time.monotonic()))}
                 for uid, ch in self.channels.items()]
        self._list(client, action, "Channels will follow", items, "CoreShowChannelsComplete")

    def _queue_status(self, client: Client, action: Action) -> None:
        wanted = action.get("Queue")
        items: list[Frame] = []
        for queue, members in self.queues.items():
            if wanted and wanted != queue:
                continue
            waiting = list(self.waiting.get(queue, {}).values())
            items.append({"Event": "QueueParams", "Queue": queue, "Max": "0", "Strategy": "rrmemory",
                          "Calls": str(len(waiting)), "Holdtime": "0", "TalkTime": "0", "Completed": "0",
                          "Abandoned": "0", "ServiceLevel": "0", "ServicelevelPerf": "0.0",
                          "ServicelevelPerf2": "0.0", "Weight": "0"})
            for m in members:
                f = m.fields(queue)
                items.append({"Event": "QueueMember", "Queue": queue, "Name": m.name, "Location": m.interface,
                              **{k: f[k] for k in ("StateInterface", "Membership", "Penalty", "CallsTaken", "LastCall",
                                                   "LastPause", "LoginTime", "InCall", "Status", "Paused",
                                                   "PausedReason", "Wrapuptime")}})
            for position, w in enumerate(waiting, 1):
                wait = int(time.monotonic() - float(w["Joined"]))
                items.append({"Event": "QueueEntry", "Queue": queue, "Position": str(position),
                              **{k: w[k] for k in _WAITER_FIELDS}, "Wait": str(wait), "Priority": "0"})
        self._list(client, action, "Queue status will follow", items, "QueueStatusComplete")

    def _queue_pause(self, client: Client, action: Action) -> None:
        paused = str(action.get("Paused", "")).lower() in ("true", "yes", "1", "on")
        changed = self.set_paused(str(action.get("Interface", "")), paused, str(action.get("Reason", "")),
                                  queue=action.get("Queue"))
        if changed:
            self._reply(client, action, "Success", Message="Interface paused successfully")
        else:
            self._reply(client, action, "Error", Message="Interface not found")

    def set_paused(self, interface: str, paused: bool, reason: str = "", *, queue: str | None = None) -> bool:
        """Pause or resume a member in its queues (or one queue), emitting QueueMemberPause; False if not a member."""
        hits = [(q, m) for q, members in self.queues.items() if queue in (None, "", q)
                for m in members if m.interface.lower() == interface.lower()]
        for q, member in hits:
            member.paused, member.reason = paused, reason if paused else ""
            member.last_pause = int(time.time()) if paused else member.last_pause
            self.emit({"Event": "QueueMemberPause", "Privilege": "agent,all", **member.fields(q)})
        return bool(hits)

    async def pause_on_phone(self, interface: str, reason: str = "", paused: bool = True) -> None:
        """A pause made on the PBX side (a feature code on the phone, the CLI): the client only sees the event."""
        if not self.set_paused(interface, paused, reason):
            raise KeyError(f"{interface} is not a member of any queue")
        await self.flush()

    def _originate(self, client: Client, action: Action) -> None:
        self._reply(client, action, "Success", Message="Originate successfully queued")
        self.spawn(originations.click_to_call(self, action))

    # -- calls -------------------------------------------------------------------------------------

    async def replay(self, name: str, *, caller: str | None = None, caller_name: str | None = None) -> str:
        """Play `<ami_dir>/<name>.ami` with fresh ids and times; returns the (first) call's Linkedid."""
        return await recordings.replay(self, self.ami_dir / f"{name}.ami", caller=caller, caller_name=caller_name)

    async def queue_call(self, **kwargs: Any) -> str:
        """A trunk call into a queue answered by the first of `extensions` (see scenarios.queue_call)."""
        return await scenarios.queue_call(self, **kwargs)

    async def ring_all(self, **kwargs: Any) -> str:
        return await scenarios.ring_all(self, **kwargs)

    async def rollover(self, **kwargs: Any) -> str:
        return await scenarios.rollover(self, **kwargs)

    async def direct_call(self, **kwargs: Any) -> str:
        return await scenarios.direct_call(self, **kwargs)

    async def abandoned(self, **kwargs: Any) -> str:
        return await scenarios.abandoned(self, **kwargs)

    async def blind_transfer(self, **kwargs: Any) -> str:
        return await transfers.blind_transfer(self, **kwargs)

    async def attended_transfer(self, **kwargs: Any) -> str:
        """The `*2` feature as Asterisk 22 plays it (see transfers.attended_transfer)."""
        return await transfers.attended_transfer(self, **kwargs)

    async def external_call(self, **kwargs: Any) -> str:
        """A call placed by another tool's Originate (see originations.external_call)."""
        return await originations.external_call(self, **kwargs)
