"""The Redis documents' codec, written for speed, reads and writes exactly what its plain form did.

The plain forms below are the codec as it was (json.dumps, enum calls, a comprehension per map): the
specification the faster one is held to, over documents as the scripts write them (cjson spells an empty
list as {}, numbers come back as int or float)."""
from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.backends import TaskParams, codec
from routing.hours import WeeklyHours
from routing.types import Agent, AgentState, Offer, OfferStatus, Presence, Task, TaskRecord, TaskState


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _map(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def plain_agent_state(raw: str) -> AgentState:
    d = json.loads(raw)
    h = d.get("hours")
    hours = WeeklyHours(tuple(tuple(int(x) for x in w) for w in _list(h["windows"])), h["tz"]) if h else None
    agent = Agent(d["id"], {k: int(v) for k, v in _map(d.get("skills")).items()}, d.get("team"),
                  {k: int(v) for k, v in _map(d.get("cap")).items()},
                  {k: int(v) for k, v in _map(d.get("occ")).items()}, frozenset(_list(d.get("queues"))), hours)
    return AgentState(agent, Presence(d["presence"]), d.get("reason"),
                      {k: int(v) for k, v in _map(d.get("load")).items()}, int(d.get("wrapping") or 0),
                      int(d.get("missed") or 0), float(d.get("last_busy") or 0), int(d.get("rr") or 0),
                      {q: tuple(float(t) for t in _list(v)) for q, v in _map(d.get("recent")).items() if _list(v)})


def plain_task_record(raw: str) -> TaskRecord:
    d = json.loads(raw)
    task = Task(d["id"], d["channel"], int(d.get("priority") or 0),
                {k: int(v) for k, v in _map(d.get("skills")).items()}, d["queue"], d.get("team"), d.get("owner"),
                float(d.get("created") or 0), d.get("sla"))
    return TaskRecord(task, TaskState(d["state"]), int(d.get("seq") or 0), float(d.get("score") or 0),
                      d.get("agent"), int(d.get("offers") or 0), frozenset(_list(d.get("declined"))),
                      float(d["assigned_at"]) if d.get("assigned_at") is not None else None,
                      int(d.get("round") or 1), float(d.get("declined_at") or 0))


def plain_task_doc(task: Task, params: TaskParams) -> str:
    return json.dumps({"id": task.id, "channel": task.channel, "priority": task.priority,
                       "skills": dict(task.required_skills), "queue": task.queue, "team": task.team,
                       "owner": task.owner, "created": task.created, "sla": task.sla_deadline,
                       "sl": params.service_level_seconds, "wrap": params.wrap_up_seconds,
                       "keep": params.keep_recent})


def plain_offer_doc(offer: Offer) -> str:
    return json.dumps({"id": offer.id, "task": offer.task_id, "agent": offer.agent_id, "channel": offer.channel,
                       "queue": offer.queue, "created": offer.created, "expires": offer.expires,
                       "status": offer.status.value})


names = st.text(min_size=1, max_size=6)     # any text: quotes, backslashes, non-ASCII, control characters
numbers = st.one_of(st.integers(-5, 10**6), st.floats(-1e6, 2e9, allow_nan=False, allow_infinity=False))
whole = st.one_of(st.integers(0, 9), st.integers(0, 9).map(float))     # cjson may write 2 as 2 or 2.0
empty = st.sampled_from([{}, []])           # cjson's empty table, or nothing there at all (below)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, empty, st.just(None))


@st.composite
def agent_docs(draw: st.DrawFn) -> str:
    d: dict[str, Any] = {"id": draw(names), "presence": draw(st.sampled_from([p.value for p in Presence]))}
    optional = {
        "skills": maybe(st.dictionaries(names, whole, max_size=3)), "team": st.one_of(st.none(), names),
        "cap": maybe(st.dictionaries(names, whole, max_size=3)), "occ": maybe(st.dictionaries(names, whole, max_size=2)),
        "queues": maybe(st.lists(names, max_size=3)), "reason": st.one_of(st.none(), names),
        "load": maybe(st.dictionaries(names, whole, max_size=3)), "wrapping": st.one_of(st.none(), whole),
        "missed": st.one_of(st.none(), whole), "last_busy": st.one_of(st.none(), numbers),
        "rr": st.one_of(st.none(), whole),
        "recent": maybe(st.dictionaries(names, maybe(st.lists(numbers, max_size=3)), max_size=3)),
        "hours": st.one_of(st.none(), st.builds(lambda w: {"tz": "Europe/Moscow", "windows": w},
                                                maybe(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 1440),
                                                                         st.integers(0, 1440)).map(list),
                                                               max_size=2)))),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            d[key] = draw(strategy)
    return json.dumps(d)


@st.composite
def task_docs(draw: st.DrawFn) -> str:
    d: dict[str, Any] = {"id": draw(names), "channel": draw(names), "queue": draw(names),
                         "state": draw(st.sampled_from([s.value for s in TaskState]))}
    optional = {
        "priority": st.one_of(st.none(), whole), "skills": maybe(st.dictionaries(names, whole, max_size=3)),
        "team": st.one_of(st.none(), names), "owner": st.one_of(st.none(), names),
        "created": st.one_of(st.none(), numbers), "sla": st.one_of(st.none(), numbers),
        "seq": st.one_of(st.none(), whole), "score": st.one_of(st.none(), numbers),
        "agent": st.one_of(st.none(), names), "offers": st.one_of(st.none(), whole),
        "declined": maybe(st.lists(names, max_size=3)), "assigned_at": st.one_of(st.none(), numbers),
        "round": st.one_of(st.none(), whole), "declined_at": st.one_of(st.none(), numbers),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            d[key] = draw(strategy)
    return json.dumps(d)


@settings(max_examples=300, deadline=None)
@given(agent_docs())
def test_an_agent_document_reads_as_it_did(raw):
    assert codec.agent_state(raw) == plain_agent_state(raw)


@settings(max_examples=300, deadline=None)
@given(task_docs())
def test_a_task_document_reads_as_it_did(raw):
    assert codec.task_record(raw) == plain_task_record(raw)


@settings(max_examples=200, deadline=None)
@given(st.builds(Task, names, names, st.integers(-3, 9), st.dictionaries(names, st.integers(0, 5), max_size=3),
                 names, st.one_of(st.none(), names), st.one_of(st.none(), names), numbers,
                 st.one_of(st.none(), numbers)),
       st.builds(TaskParams, numbers, numbers, st.integers(0, 5)),
       st.builds(Offer, names, names, names, names, names, numbers, numbers, st.sampled_from(list(OfferStatus))))
def test_documents_are_written_as_json_dumps_wrote_them(task, params, offer):
    # A task's nulls, and a wrap-up or recent count of 0, are left out (every reader takes a missing field so).
    written = json.loads(codec.task_doc(task, params))
    assert written == {k: v for k, v in json.loads(plain_task_doc(task, params)).items()
                       if not (v is None or (k in ("wrap", "keep") and v == 0))}
    assert codec.task_record({**written, "state": "pending"}).task == task
    assert codec.offer_doc(offer) == plain_offer_doc(offer)
    assert codec.offer(codec.offer_doc(offer)) == offer


def test_an_unknown_state_is_refused_as_before():
    for parse, doc in ((codec.agent_state, {"id": "a", "presence": "asleep"}),
                       (codec.task_record, {"id": "t", "channel": "chat", "queue": "q", "state": "lost"})):
        try:
            parse(json.dumps(doc))
        except ValueError:
            continue
        raise AssertionError(f"{doc} was read")


json_values = st.recursive(st.one_of(st.none(), st.booleans(), numbers, names),
                           lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(names, inner, max_size=3)),
                           max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values.map(json.dumps),
                 st.tuples(st.sampled_from(["", " ", "\n", "x", "}", "\ufeff"]), json_values.map(json.dumps),
                           st.sampled_from(["", " ", "\r\n", "x", "{}", "]"])).map("".join),
                 st.text(max_size=12)))
def test_a_json_text_reads_or_fails_as_json_loads_would(raw):
    try:
        expected: Any = json.loads(raw)
    except ValueError as exc:
        expected = (type(exc), str(exc))
    try:
        got: Any = codec._loads(raw)
    except ValueError as exc:
        got = (type(exc), str(exc))
    # By repr: NaN (json reads it) equals nothing, not even itself; 1 and 1.0, 0.0 and -0.0 told apart.
    assert repr(got) == repr(expected)
