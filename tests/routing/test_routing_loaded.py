"""The engine's own view of an agent after an offer it made (`RoutingSteps._loaded`) is the agent with one
more on the offer's channel and nothing else changed: built field by field, it must keep every field."""
from __future__ import annotations

from dataclasses import fields, replace

from routing.hours import WeeklyHours
from routing.steps import RoutingSteps
from routing.types import Agent, AgentState, Offer, Presence


def test_an_offer_adds_one_to_its_channel_and_keeps_every_other_field():
    agent = Agent("a1", {"en": 2}, "north", {"chat": 2, "voice": 1}, {"chat": 1}, frozenset({"sales"}),
                  WeeklyHours(((0, 0, 1440),), "UTC"))
    state = AgentState(agent, Presence.AVAILABLE, "back", {"chat": 1, "voice": 0}, 1, 2, 123.5, 7,
                       {"sales": (100.0, 110.0)})
    # Every field differs from its default, so a field the copy forgot would show.
    assert all(getattr(state, f.name) != getattr(AgentState(agent), f.name) for f in fields(AgentState)
               if f.name != "agent")
    offer = Offer("o1", "t1", "a1", "chat", "sales", 200.0, 260.0)
    assert RoutingSteps._loaded(state, offer) == replace(state, load={"chat": 2, "voice": 0})
    assert RoutingSteps._loaded(state, replace(offer, channel="email")).load == {"chat": 1, "voice": 0, "email": 1}
