"""Which phone FastAGI rings: free for a call, in the queue, longest idle first (pure, no backend)."""
from __future__ import annotations

from routing.policies import free_for_a_call, phone_to_ring
from routing.types import VOICE, Agent, AgentState, Presence


def state(agent_id: str, *, presence: Presence = Presence.AVAILABLE, last_busy: float = 0.0,
          queues: frozenset[str] = frozenset(), voice: int = 1, **kwargs) -> AgentState:  # type: ignore[no-untyped-def]
    agent = Agent(agent_id, capacity={VOICE: voice, "chat": 2}, queues=queues)
    return AgentState(agent, presence=presence, last_busy=last_busy, **kwargs)


def test_a_phone_rings_only_for_an_available_agent_with_a_free_voice_line():
    assert free_for_a_call(state("a"))
    assert not free_for_a_call(None)
    assert not free_for_a_call(state("a", presence=Presence.BREAK))
    assert not free_for_a_call(state("a", presence=Presence.OFFLINE))
    assert not free_for_a_call(state("a", load={VOICE: 1}))
    assert not free_for_a_call(state("a", wrapping=1))
    assert not free_for_a_call(state("a", voice=0))
    assert free_for_a_call(state("a", load={"chat": 2}))          # chats do not hold the phone


def test_the_longest_idle_agent_of_the_queue_is_rung_ties_by_id():
    agents = [state("c", last_busy=30.0), state("b", last_busy=10.0), state("a", last_busy=10.0),
              state("d", last_busy=5.0, queues=frozenset({"sales"})), state("e", last_busy=1.0, load={VOICE: 1})]
    chosen = phone_to_ring(agents, "default")
    assert chosen is not None and chosen.id == "a"                  # d is not in the queue, e is on a call
    chosen = phone_to_ring(agents, "sales")
    assert chosen is not None and chosen.id == "d"


def test_nobody_free_rings_nobody():
    assert phone_to_ring([], "default") is None
    assert phone_to_ring([state("a", presence=Presence.BREAK), state("b", wrapping=1)], "default") is None
