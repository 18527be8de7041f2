"""JSON documents for agents, tasks and offers as the Redis Lua scripts read and write them."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar, overload

from routing.backends import TaskParams
from routing.hours import WeeklyHours
from routing.types import Agent, AgentState, Offer, OfferStatus, Presence, Task, TaskRecord, TaskState


def _list(value: Any) -> list[Any]:
    # cjson writes an empty Lua table as {} whether it was meant as a list or a map.
    return value if isinstance(value, list) else []


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def agent_doc(agent: Agent) -> str:
    """An agent's configuration as JSON."""
    hours = {"tz": agent.hours.tz, "windows": [list(w) for w in agent.hours.windows]} if agent.hours else None
    return json.dumps({"id": agent.id, "skills": dict(agent.skills), "team": agent.team,
                       "cap": dict(agent.capacity), "occ": dict(agent.on_call_capacity),
                       "queues": sorted(agent.queues), "hours": hours})


def agent_state(raw: str | dict[str, Any]) -> AgentState:
    """Parse an agent document."""
    d = json.loads(raw) if isinstance(raw, str) else raw
    h = d.get("hours")
    hours = WeeklyHours(tuple(tuple(int(x) for x in w) for w in _list(h["windows"])), h["tz"]) if h else None
    agent = Agent(d["id"], {k: int(v) for k, v in _map(d.get("skills")).items()}, d.get("team"),
                  {k: int(v) for k, v in _map(d.get("cap")).items()},
                  {k: int(v) for k, v in _map(d.get("occ")).items()}, frozenset(_list(d.get("queues"))), hours)
    return AgentState(agent, Presence(d["presence"]), d.get("reason"),
                      {k: int(v) for k, v in _map(d.get("load")).items()}, int(d.get("wrapping") or 0),
                      int(d.get("missed") or 0), float(d.get("last_busy") or 0), int(d.get("rr") or 0),
                      {q: tuple(float(t) for t in _list(v)) for q, v in _map(d.get("recent")).items() if _list(v)})


def task_doc(task: Task, params: TaskParams) -> str:
    """A new task as JSON, with the queue settings the scripts need."""
    return json.dumps({"id": task.id, "channel": task.channel, "priority": task.priority,
                       "skills": dict(task.required_skills), "queue": task.queue, "team": task.team,
                       "owner": task.owner, "created": task.created, "sla": task.sla_deadline,
                       "sl": params.service_level_seconds, "wrap": params.wrap_up_seconds,
                       "keep": params.keep_recent})


def task_record(raw: str | dict[str, Any]) -> TaskRecord:
    """Parse a task document."""
    d = json.loads(raw) if isinstance(raw, str) else raw
    task = Task(d["id"], d["channel"], int(d.get("priority") or 0),
                {k: int(v) for k, v in _map(d.get("skills")).items()}, d["queue"], d.get("team"), d.get("owner"),
                float(d.get("created") or 0), d.get("sla"))
    return TaskRecord(task, TaskState(d["state"]), int(d.get("seq") or 0), float(d.get("score") or 0),
                      d.get("agent"), int(d.get("offers") or 0), frozenset(_list(d.get("declined"))),
                      float(d["assigned_at"]) if d.get("assigned_at") is not None else None,
                      int(d.get("round") or 1), float(d.get("declined_at") or 0))


def offer_doc(offer: Offer) -> str:
    """An offer as JSON."""
    return json.dumps({"id": offer.id, "task": offer.task_id, "agent": offer.agent_id, "channel": offer.channel,
                       "queue": offer.queue, "created": offer.created, "expires": offer.expires,
                       "status": offer.status.value})


def offer(raw: str | dict[str, Any]) -> Offer:
    """Parse an offer document."""
    d = json.loads(raw) if isinstance(raw, str) else raw
    return Offer(d["id"], d["task"], d["agent"], d["channel"], d["queue"], float(d["created"]),
                 float(d["expires"]), OfferStatus(d["status"]))


def many(raw: str | list[Any] | dict[str, Any]) -> list[dict[str, Any]]:
    """A JSON list from a script (an empty one arrives as {})."""
    if raw == "[]" or raw == "{}":      # most replies: nothing rescinded, requeued or freed
        return []
    return _list(json.loads(raw) if isinstance(raw, str) else raw)


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
