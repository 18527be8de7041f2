"""JSON documents for agents, tasks and offers as the Redis Lua scripts read and write them."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from json import encoder as _json_encoder
from typing import Any, Generic, TypeVar, overload

import orjson

from routing.backends import TaskParams
from routing.hours import WeeklyHours
from routing.types import Agent, AgentState, Offer, OfferStatus, Presence, Task, TaskRecord, TaskState


def _list(value: Any) -> list[Any]:
    # cjson writes an empty Lua table as {} whether it was meant as a list or a map.
    return value if isinstance(value, list) else []


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _ints(value: Any) -> dict[str, int]:
    # A map of whole numbers; most are empty, which skips building a comprehension (decoding a document is
    # most of a decision's Python, and an agent has four of these).
    return {k: int(v) for k, v in value.items()} if value and isinstance(value, dict) else {}


# Enum members by value: a dict lookup, where calling the enum costs a microsecond each; an unknown value
# still raises as the enum would.
_PRESENCE = {p.value: p for p in Presence}
_TASK_STATE = {s.value: s for s in TaskState}
_OFFER_STATUS = {s.value: s for s in OfferStatus}


def _presence(value: str) -> Presence:
    return _PRESENCE.get(value) or Presence(value)


def _task_state(value: str) -> TaskState:
    return _TASK_STATE.get(value) or TaskState(value)


def _offer_status(value: str) -> OfferStatus:
    return _OFFER_STATUS.get(value) or OfferStatus(value)


def _c_dumps() -> Callable[[Any], str]:
    # json.dumps with its defaults, less its Python layers (JSONEncoder.encode, iterencode: a few
    # microseconds of every document sent); the same text. Without the C encoder, json.dumps itself.
    make = _json_encoder.c_make_encoder
    if make is None:
        return json.dumps
    default = json.JSONEncoder().default

    def dumps(obj: Any) -> str:
        return "".join(make({}, default, _json_encoder.encode_basestring_ascii, None, ": ", ", ", False, False,
                            True)(obj, 0))
    return dumps


_dumps = _c_dumps()


def _loads(raw: str) -> Any:
    """json.loads for the scripts' documents: orjson's parse (a third of json's C scanner's time on an agent
    or a task, three of which a freed agent's decision reads). What orjson refuses goes to json.loads, which
    reads what json alone accepts (NaN, lone surrogates, huge numbers) or raises as ever."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def document(raw: str) -> dict[str, Any]:
    """A script's JSON document as a dict (to change before it is parsed into a record)."""
    return _loads(raw)


def agent_doc(agent: Agent) -> str:
    """An agent's configuration as JSON."""
    hours = {"tz": agent.hours.tz, "windows": [list(w) for w in agent.hours.windows]} if agent.hours else None
    return json.dumps({"id": agent.id, "skills": dict(agent.skills), "team": agent.team,
                       "cap": dict(agent.capacity), "occ": dict(agent.on_call_capacity),
                       "queues": sorted(agent.queues), "hours": hours})


def agent_state(raw: str | dict[str, Any]) -> AgentState:
    """Parse an agent document."""
    d = _loads(raw) if isinstance(raw, str) else raw
    get = d.get
    h = get("hours")
    hours = WeeklyHours(tuple(tuple(int(x) for x in w) for w in _list(h["windows"])), h["tz"]) if h else None
    queues = get("queues")
    agent = Agent(d["id"], _ints(get("skills")), get("team"), _ints(get("cap")), _ints(get("occ")),
                  frozenset(queues) if queues and isinstance(queues, list) else frozenset(), hours)
    recent = get("recent")
    return AgentState(agent, _presence(d["presence"]), get("reason"), _ints(get("load")),
                      int(get("wrapping") or 0), int(get("missed") or 0), float(get("last_busy") or 0),
                      int(get("rr") or 0),
                      {q: tuple(float(t) for t in v) for q, v in recent.items() if v and isinstance(v, list)}
                      if recent and isinstance(recent, dict) else {})


def task_doc(task: Task, params: TaskParams) -> str:
    """A new task as JSON, with the queue settings the scripts need. What is null or no wrap-up or no recent
    kept is left out: every reader takes a missing field so (`nonnull`, `num` in the scripts, `get` here), and
    each of the scripts' decodes and encodes of the document (three of them a freed agent's decision) is that
    much shorter."""
    doc = {"id": task.id, "channel": task.channel, "priority": task.priority, "skills": dict(task.required_skills),
           "queue": task.queue, "created": task.created, "sl": params.service_level_seconds}
    if task.team is not None:
        doc["team"] = task.team
    if task.owner is not None:
        doc["owner"] = task.owner
    if task.sla_deadline is not None:
        doc["sla"] = task.sla_deadline
    if params.wrap_up_seconds != 0:
        doc["wrap"] = params.wrap_up_seconds
    if params.keep_recent != 0:
        doc["keep"] = params.keep_recent
    return _dumps(doc)


def task_record(raw: str | dict[str, Any]) -> TaskRecord:
    """Parse a task document."""
    d = _loads(raw) if isinstance(raw, str) else raw
    get = d.get
    task = Task(d["id"], d["channel"], int(get("priority") or 0), _ints(get("skills")), d["queue"], get("team"),
                get("owner"), float(get("created") or 0), get("sla"))
    declined, assigned_at = get("declined"), get("assigned_at")
    return TaskRecord(task, _task_state(d["state"]), int(get("seq") or 0), float(get("score") or 0), get("agent"),
                      int(get("offers") or 0),
                      frozenset(declined) if declined and isinstance(declined, list) else frozenset(),
                      float(assigned_at) if assigned_at is not None else None, int(get("round") or 1),
                      float(get("declined_at") or 0))


def offer_doc(offer: Offer) -> str:
    """An offer as JSON."""
    return _dumps({"id": offer.id, "task": offer.task_id, "agent": offer.agent_id, "channel": offer.channel,
                   "queue": offer.queue, "created": offer.created, "expires": offer.expires,
                   "status": offer.status.value})


def offer(raw: str | dict[str, Any]) -> Offer:
    """Parse an offer document."""
    d = _loads(raw) if isinstance(raw, str) else raw
    return Offer(d["id"], d["task"], d["agent"], d["channel"], d["queue"], float(d["created"]),
                 float(d["expires"]), _offer_status(d["status"]))


def many(raw: str | list[Any] | dict[str, Any]) -> list[dict[str, Any]]:
    """A JSON list from a script (an empty one arrives as {})."""
    if raw == "[]" or raw == "{}":      # most replies: nothing rescinded, requeued or freed
        return []
    return _list(_loads(raw) if isinstance(raw, str) else raw)


T = TypeVar("T")


class Lazy(Sequence[T], Generic[T]):
    """Documents from a script, parsed only when looked at: a queue's page or a channel's free agents are
    read whole, but a decision usually stops at the first that fits (parsing is most of its Python time)."""

    __slots__ = ("_raws", "_parse", "_done")

    def __init__(self, raws: Sequence[str | None], parse: Callable[[str], T]) -> None:
        self._raws = [r for r in raws if r]     # a document deleted since its id was read comes back nil
        self._parse = parse
        self._done: dict[int, T] = {}

    def __len__(self) -> int:
        return len(self._raws)

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._raws)))]
        if index < 0:
            index += len(self._raws)
        if index not in self._done:
            self._done[index] = self._parse(self._raws[index])
        return self._done[index]

    def __iter__(self) -> Iterator[T]:
        for i in range(len(self._raws)):
            yield self[i]
