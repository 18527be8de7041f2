"""The record of a backend's match over one agent (`steps.sole_choice`) is choose's decision, or left to it."""
from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from routing.policies import choose
from routing.steps import sole_choice
from routing.types import (Agent, AgentState, Fairness, Policy, Presence, PriorityGate, QueueConfig, Task,
                           TaskRecord, TaskState)

NOW = 1_000_000.0

states = st.builds(
    lambda presence, skill, cap, load, queues, team, last_busy, rr, recent: AgentState(
        Agent("a1", {"en": skill}, team, {"chat": cap}, {}, frozenset(queues)), presence, None, {"chat": load}, 0, 0,
        last_busy, rr, {"sales": tuple(NOW - r for r in recent)}),
    st.sampled_from([Presence.AVAILABLE] * 6 + list(Presence)), st.integers(0, 3), st.integers(0, 2),
    st.sampled_from([0, 0, 0, 1, 2]), st.sampled_from([(), (), ("sales",), ("support",)]),
    st.sampled_from([None, None, "t1", "t2"]),
    st.floats(0, NOW), st.integers(0, 50), st.lists(st.floats(0, 100), max_size=3))
records = st.builds(
    lambda skill, priority, team, declined, round_: TaskRecord(
        Task("t1", "chat", priority, {"en": skill}, "sales", team, None, NOW - 30), TaskState.PENDING, 1, 0.0,
        declined=frozenset(declined), round=round_),
    st.integers(0, 2), st.integers(0, 9), st.sampled_from([None, None, "t1"]),
    st.sampled_from([(), (), ("a1",), ("a2",)]),
    st.integers(1, 3))
queues = st.builds(
    QueueConfig, st.sampled_from(list(Policy)), st.integers(1, 3),
    fairness=st.sampled_from([None, None, Fairness(2, 60.0)]),
    priority_gate=st.sampled_from([None, None, PriorityGate(5, "en", 2)]), fixed_order=st.sampled_from([(), ("a1",)]))


@given(records, queues, states)
@example(TaskRecord(Task("t1", "chat", 0, {"en": 1}, "sales", created=NOW - 30), TaskState.PENDING, 1, 0.0),
         QueueConfig(), AgentState(Agent("a1", {"en": 2}, capacity={"chat": 1}), Presence.AVAILABLE))
def test_sole_choice_is_chooses_decision_or_none(rec, queue, state):
    expected = choose(rec, queue, [state], None, NOW, ordered=True)
    got = sole_choice(rec, queue, state, NOW)
    assert got == (expected if expected.chosen else None)
