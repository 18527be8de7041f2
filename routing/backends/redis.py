"""Routing state in Redis, shared by many processes; every step is one atomic Lua script."""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, ResponseError

from routing.backends import Added, Closed, NextOffer, Pages, Pool, Released, Snapshot, TaskParams, codec, day_of
from routing.backends import redis_lua as lua
from routing.backends import redis_lua_tasks as lua_tasks
from routing.backends.redis_wire import ScriptWire
from routing.events import InvalidState, NotFound, NotYourOffer, OfferNotPending, RoutingError
from routing.types import Agent, AgentState, Offer, OfferStatus, Policy, Presence, Task, TaskRecord, TaskState

_ERRORS: dict[str, type[RoutingError]] = {"NOTFOUND": NotFound, "NOTPENDING": OfferNotPending,
                                          "NOTYOURS": NotYourOffer, "INVALID": InvalidState}


RANKED_PAGE = 8  # free agents read in policy order; more only if none of these is eligible


def _ts(value: float) -> str:
    return repr(float(value))


# Redis keeps longest-idle and round-robin orders; other policies rank in Python over all free agents.
_RANKED = {Policy.LONGEST_IDLE: Policy.LONGEST_IDLE.value, Policy.ROUND_ROBIN: Policy.ROUND_ROBIN.value}


def _ranked(policy: Policy | None) -> str:
    return _RANKED.get(policy, "") if policy is not None else ""     # a lookup: an enum's .value is a descriptor call


def _pool(free: list[str], named: list[str], partial: int, policy: Policy | None) -> Pool:
    return Pool([codec.agent_state(a) for a in free if a], [codec.agent_state(a) if a else None for a in named],
                ordered=bool(_ranked(policy)), partial=bool(partial))


class RedisBackend:
    """Routing state under `prefix` in one Redis database."""

    def __init__(self, client: Redis, prefix: str = "switchboard:routing:") -> None:
        self.client = client
        self.prefix = prefix
        bodies = {name: getattr(module, name) for module in (lua, lua_tasks) for name in dir(module)
                  if name.isupper() and name != "PRELUDE"}
        self._scripts = {name: client.register_script(lua.script(body)) for name, body in bodies.items()}
        # The scripts' calls (every decision) and the reads around them on a lean connection of their own.
        self.wire = ScriptWire(client)
        self._specs: dict[tuple[tuple[str, ...], tuple[tuple[str, tuple[Policy, float, float]], ...]], tuple[str, ...]] = {}
        self._spec_of: tuple[Mapping[str, tuple[Policy, float, float]] | None, tuple[str, ...], tuple[str, ...]] = (
            None, (), ())
        # The earliest deadline as far as this process knows, or None (unknown: ask Redis). The engine's
        # driver asks after every call; Redis was asked 8 times per lead for it. A deadline this process
        # adds has a time it knows (an offer's expiry, `schedule`); one ended early (an accepted offer)
        # leaves the hint early, never late: the timer fires, `pop_due` finds nothing and the next answer
        # is read again. Other processes' deadlines are theirs to fire; the driver's shared check
        # (`RoutingDriver`, every 2 s) picks up those of a process that died, as before.
        self._due: float | None = None
        self._due_known = False
        self._due_changes = 0       # a change while Redis is asked leaves the answer unknown

    @classmethod
    def from_url(cls, url: str, prefix: str = "switchboard:routing:") -> RedisBackend:
        """A backend with its own connection pool."""
        return cls(Redis.from_url(url, decode_responses=True), prefix)

    async def _run(self, name: str, *args: Any) -> Any:
        script = self._scripts[name]
        # EVALSHA straight: redis-py's Script wrapper copies the arguments and checks for pipelines on every
        # call; it is kept for its body and digest.
        try:
            try:
                return await self.wire.call("EVALSHA", script.sha, 0, self.prefix, *args)
            except NoScriptError:       # a Redis restarted or flushed: load it, as the wrapper would, and run it
                script.sha = await self.client.script_load(script.script)
                return await self.wire.call("EVALSHA", script.sha, 0, self.prefix, *args)
        except ResponseError as exc:
            code, _, message = str(exc).partition(" ")
            if code in _ERRORS:
                raise _ERRORS[code](message) from None
            raise

    async def upsert_agent(self, agent: Agent, now: float) -> AgentState:
        """Create or reconfigure an agent, keeping its presence and load."""
        return codec.agent_state(await self._run("UPSERT_AGENT", codec.agent_doc(agent), _ts(now)))

    async def set_presence(self, agent_id: str, presence: Presence, reason: str | None,
                           now: float) -> tuple[AgentState, tuple[Offer, ...], tuple[TaskRecord, ...]]:
        """Set presence; leaving `available` rescinds pending offers."""
        raw, ended, requeued = await self._run("SET_PRESENCE", agent_id, presence.value, reason or "", _ts(now))
        return (codec.agent_state(raw), tuple(codec.offer(o) for o in codec.many(ended)),
                tuple(codec.task_record(t) for t in codec.many(requeued)))

    async def candidates(self, channel: str, ids: Sequence[str], policy: Policy | None) -> Pool:
        """Free agents on `channel` (the first RANKED_PAGE in policy order when ranked), and the named."""
        free, named, partial = await self._run("CANDIDATES", channel, _ranked(policy), RANKED_PAGE, *ids)
        return _pool(free, named, partial, policy)

    async def get_agents(self, ids: Sequence[str]) -> list[AgentState | None]:
        """Agents by id."""
        if not ids:
            return []
        raws = await self.wire.call("MGET", *(f"{self.prefix}a:{i}" for i in ids))
        return [codec.agent_state(r) if r else None for r in raws]

    async def add_task(self, task: Task, score: float, params: TaskParams, now: float,
                       policy: Policy, *, restored: bool = False, offer: Offer | None = None) -> Added | None:
        """Queue a new task, with the candidates for it; None if the id is known already (or, `restored`
        from the database, finished within the last hour). With `offer`, a ranked policy and no agent with
        working hours in the way, the script also matches and makes the offer: the whole decision in one
        round trip, and only the agents it looked at are decoded."""
        ranked = _ranked(policy)
        # The offer as fields, not a document: the script builds it only if it matches.
        template = (offer.id, offer.channel, offer.queue, _ts(offer.created), _ts(offer.expires),
                    offer.status.value) if offer is not None and ranked else ("",)
        out = await self._run("ADD_TASK", codec.task_doc(task, params), _ts(score), _ts(now), ranked,
                              RANKED_PAGE, "1" if restored else "0", *template)
        if not out:
            return None
        if len(out) == 3:       # matched in the script: the record is what we sent, no need to decode it
            seq, seen, agent_id = out
            record = TaskRecord(task, TaskState.PENDING, int(seq), float(score))      # repr round-trips a float
            scanned = Pool([codec.agent_state(a) for a in seen], [], ordered=True)
            # The offer as sent, with its agent (built directly: dataclasses.replace reads every field by name).
            made = (Offer(offer.id, offer.task_id, agent_id, offer.channel, offer.queue, offer.created,
                          offer.expires, offer.status),) if agent_id and offer is not None else ()
            self._due_at(*(o.expires for o in made))
            return Added(record, scanned, made)
        raw, free, named, partial = out
        return Added(codec.task_record(raw), _pool(free, named, partial, policy))

    async def get_task(self, task_id: str) -> TaskRecord | None:
        """A live task by id."""
        raw = await self.wire.call("GET", f"{self.prefix}t:{task_id}")
        return codec.task_record(raw) if raw else None

    async def pending(self, keys: Sequence[tuple[str, str]], offset: int, limit: int) -> Pages:
        """Pending tasks of each (queue, channel) in queue order, and (first page) the free agents."""
        channels = json.dumps(sorted({ch for _, ch in keys}) if offset == 0 else [])
        pages, flat = await self._run("PENDING", offset, limit, channels, *(f"{q}:{ch}" for q, ch in keys))
        free = {flat[i]: codec.Lazy(flat[i + 1], codec.agent_state) for i in range(0, len(flat), 2)}
        return Pages([codec.Lazy(page, codec.task_record) for page in pages], free if offset == 0 else None)

    async def reserve(self, task_id: str, offers: Sequence[Offer], max_pending: int) -> list[Offer]:
        """Make each offer whose agent is available with free capacity, while the task is open."""
        made = [codec.offer(o) for o in await self._run("RESERVE", task_id, max_pending,
                                                          *(codec.offer_doc(o) for o in offers))]
        self._due_at(*(o.expires for o in made))
        return made

    async def accept(self, offer_id: str, agent_id: str, now: float) -> tuple[TaskRecord, Offer, tuple[Offer, ...]]:
        """Accept a pending offer; the task's other offers are rescinded. First accept wins."""
        task, accepted, rescinded = await self._run("ACCEPT", offer_id, agent_id, _ts(now))
        return codec.task_record(task), codec.offer(accepted), tuple(codec.offer(o) for o in codec.many(rescinded))

    async def close_offer(self, offer_id: str, status: OfferStatus, now: float, agent_id: str | None,
                          missed_limit: int) -> Closed | None:
        """End a pending offer by reject or timeout."""
        out = await self._run("CLOSE_OFFER", offer_id, status.value, _ts(now), agent_id or "", missed_limit)
        if not out:
            return None
        ended, requeued, on_break, others = out
        return Closed(codec.offer(ended), tuple(codec.task_record(t) for t in codec.many(requeued)),
                      codec.agent_state(on_break) if on_break else None,
                      tuple(codec.offer(o) for o in codec.many(others)))

    async def take(self, task_id: str, agent_id: str, now: float) -> tuple[TaskRecord, tuple[Offer, ...]]:
        """Assign a waiting task to a named agent; its offers are rescinded. One taker wins."""
        task, rescinded = await self._run("TAKE", task_id, agent_id, _ts(now))
        return codec.task_record(task), tuple(codec.offer(o) for o in codec.many(rescinded))

    async def set_priority(self, task_id: str, priority: int, score: float) -> TaskRecord | None:
        """Move a waiting task to its new place in the queue."""
        raw = await self._run("SET_PRIORITY", task_id, priority, _ts(score))
        return codec.task_record(raw) if raw else None

    async def new_round(self, task_id: str, round: int) -> TaskRecord | None:
        """Clear who declined the pending task and count its next round, if it is still in `round`."""
        raw = await self._run("NEW_ROUND", task_id, round)
        return codec.task_record(raw) if raw else None

    @staticmethod
    def _released(out: list[Any], now: float = 0.0, next_offer: NextOffer | None = None,
                  completed: str = "") -> Released:
        task, rescinded, freed, agents = out[:4]
        # COMPLETE sends no document for a task it completes (`completed`: its id): the engine reads only
        # the id, the state and the agent of a released task, and this one's agent is the freed one.
        ended = (completed, TaskState.COMPLETED, freed[0]) if completed and not task else None
        keys: tuple[tuple[str, str], ...] = ()
        pages = matched = None
        # One freed agent (COMPLETE's, FINISH_WRAP's): without the comprehensions' and generators' frames.
        if len(agents) == 1 and agents[0]:
            state = codec.agent_state(agents[0])
            states, now_states = {agents[0]: state}, (state,)
        else:
            states = {raw: codec.agent_state(raw) for raw in agents if raw}
            now_states = tuple(states[a] for a in agents if a)
        if len(out) == 8 and next_offer is not None:   # COMPLETE offered the freed agent's next task itself
            raw, seen, agent_id = out[7]
            record = codec.task_record(raw)
            next_task = record.task
            made = Offer(next_offer.offer_id, record.id, agent_id, next_task.channel, next_task.queue, now,
                         now + next_offer.queues[next_task.queue][2])
            # The freed agent is usually the first one the walk looked at, as the same document: decoded once;
            # `seen` empty: it alone (nobody else was free), its document sent once, as the freed agent's.
            looked = [states[a] if a in states else codec.agent_state(a) for a in seen] if seen else [states[agents[0]]]
            matched = Added(record, Pool(looked, [], ordered=True), (made,))
        elif len(out) == 7 and out[4]:
            flat, raw_pages, free = out[4:]
            keys = tuple((flat[i], flat[i + 1]) for i in range(0, len(flat), 2))
            pages = Pages([codec.Lazy(page, codec.task_record) for page in raw_pages],
                          {free[i]: codec.Lazy(free[i + 1], codec.agent_state) for i in range(0, len(free), 2)})
        return Released(None if ended else codec.task_record(task),
                        () if rescinded == "[]" else tuple(codec.offer(o) for o in codec.many(rescinded)),
                        tuple(codec.many(freed)), now_states, keys, pages, matched, ended)

    async def complete(self, task_id: str, now: float, *, queues: Sequence[str] = (), page: int = 0,
                       next_offer: NextOffer | None = None) -> Released:
        """Finish an assigned task: wrap-up for voice if configured, else completed; with `page`, the freed
        agent's first `pending` read comes along (a round trip less for the agent's next offer), and with
        `next_offer` the script makes that offer itself where it can judge alone (one round trip in all)."""
        offer_id, settings = "", ()
        if next_offer is not None and queues and page:
            offer_id, settings = next_offer.offer_id, self._queue_settings(queues, next_offer.queues)
        out = await self._run("COMPLETE", task_id, _ts(now), page if queues else 0, offer_id, len(queues), *queues,
                              *settings)
        released = self._released(out, now, next_offer, completed=task_id)
        if released.record is not None and released.record.state is TaskState.WRAPPING:
            self._due_unknown()      # the wrap-up's end: its length is in the task document
        elif released.matched is not None:
            self._due_at(*(o.expires for o in released.matched.offered or ()))
        return released

    def _queue_settings(self, names: Sequence[str], queues: Mapping[str, tuple[Policy, float, float]]) -> tuple[str, ...]:
        # Each queue's policy, aging and offer timeout as COMPLETE reads them (flat arguments: no JSON for the
        # script to decode): the same every call, so made once per set of settings (the engine hands the same
        # mapping each time, found by identity).
        key = tuple(names)
        if queues is self._spec_of[0] and key == self._spec_of[1]:
            return self._spec_of[2]
        spec = self._specs.get((key, tuple(queues.items())))
        if spec is None:
            if len(self._specs) > 16:       # settings changed often (never, in practice): start afresh
                self._specs.clear()
            spec = self._specs[(key, tuple(queues.items()))] = tuple(
                part for name in names
                for part in ((queues[name][0].value, repr(float(queues[name][1])), repr(float(queues[name][2])))
                             if name in queues else ("", "", "")))
        self._spec_of = (queues, key, spec)
        return spec

    async def finish_wrap(self, task_id: str, now: float) -> Released | None:
        """End a wrap-up."""
        out = await self._run("FINISH_WRAP", task_id, _ts(now))
        return self._released(out) if out else None

    async def cancel(self, task_id: str, now: float) -> Released:
        """Cancel a live task in any state."""
        return self._released(await self._run("CANCEL", task_id, _ts(now)))

    async def schedule(self, member: str, at: float) -> None:
        """Remember a deadline; an earlier one for the same member is kept."""
        await self.wire.call("ZADD", f"{self.prefix}due", "LT", _ts(at), member)
        self._due_at(at)

    def _due_at(self, *times: float) -> None:
        if times:
            self._due_changes += 1
        if self._due_known and times:
            self._due = min(times) if self._due is None else min(self._due, *times)

    def _due_unknown(self) -> None:
        self._due_changes += 1
        self._due_known = False

    async def pop_due(self, now: float) -> list[str]:
        """Take the deadlines due at `now`, earliest first; each goes to one caller only."""
        self._due_unknown()      # the earliest is gone (and other processes' may be earlier)
        return list(await self._run("POP_DUE", _ts(now)))

    async def next_deadline(self) -> float | None:
        """The earliest deadline: read once, then kept from what this process adds (maybe early, never
        late for its own) until the next `pop_due`; other processes' may be missing meanwhile."""
        if self._due_known:
            return self._due
        changes = self._due_changes
        first = await self.wire.call("ZRANGE", f"{self.prefix}due", 0, 0, "WITHSCORES")   # [member, score]
        due = float(first[1]) if first else None
        if changes == self._due_changes:
            self._due, self._due_known = due, True
        return due

    async def offers_for(self, agent_id: str) -> list[Offer]:
        """An agent's pending offers."""
        raws = await self._run("MEMBER_DOCS", f"ao:{agent_id}", "o:")
        return sorted((codec.offer(r) for r in raws if r), key=lambda o: (o.created, o.id))

    async def assignments_for(self, agent_id: str) -> list[TaskRecord]:
        """An agent's assigned and wrapping tasks."""
        raws = await self._run("MEMBER_DOCS", f"aa:{agent_id}", "t:")
        return sorted((codec.task_record(r) for r in raws if r), key=lambda t: t.seq)

    async def owned(self, agent_id: str) -> list[TaskRecord]:
        """Live tasks whose owner is the agent."""
        raws = await self._run("MEMBER_DOCS", f"own:{agent_id}", "t:")
        return sorted((codec.task_record(r) for r in raws if r), key=lambda t: t.seq)

    async def snapshot(self, now: float) -> Snapshot:
        """Everything, for stats and explanations."""
        agents, tasks, offers, flat = await self._run("SNAPSHOT", day_of(now))
        counters = {flat[i]: float(flat[i + 1]) for i in range(0, len(flat), 2)}
        return Snapshot(now, tuple(sorted((codec.agent_state(a) for a in agents if a), key=lambda a: a.id)),
                        tuple(sorted((codec.task_record(t) for t in tasks if t), key=lambda t: t.seq)),
                        tuple(codec.offer(o) for o in offers if o), counters)

    async def aclose(self) -> None:
        """Close the scripts' connection and the connection pool."""
        await self.wire.aclose()
        await self.client.aclose()
