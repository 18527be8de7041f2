"""Who receives which frame, decided by the notifier alone: checked on what it hands the fan-out, no socket."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from channels.asterisk.types import CallEnded, CallStarted, Direction, CallOutcome
from channels.types import InboundContact
from crm_store.task_refs import LeadTask
from gateway.notifier import Notifier
from gateway.voice.live import LiveCall
from routing.types import Offer

AT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Delivered:
    """The fan-out as the notifier sees it: every frame with its recipients, in order."""

    frames: list[tuple[str, frozenset[Any], Mapping[str, Any]]] = field(default_factory=list)

    async def to_users(self, user_ids: set[int], kind: str, data: Mapping[str, Any]) -> None:
        self.frames.append((kind, frozenset(user_ids), data))

    async def to_roles(self, roles: frozenset[str], kind: str, data: Mapping[str, Any]) -> None:
        self.frames.append((kind, frozenset(roles), data))

    async def to_watchers(self, page: str, roles: frozenset[str], kind: str, data: Mapping[str, Any]) -> None:
        self.frames.append((kind, frozenset({f"{page} of {role}" for role in roles}), data))

    async def disconnect(self, user_id: int, session: str | None, reason: str) -> None:
        self.frames.append(("disconnect", frozenset({user_id}), {"session": session, "reason": reason}))

    def recipients(self, kind: str) -> list[frozenset[Any]]:
        return [to for k, to, _ in self.frames if k == kind]


def notifier() -> tuple[Notifier, Delivered]:
    delivered = Delivered()
    return Notifier(delivered), delivered


def a_call(**kw: Any) -> LiveCall:
    started = CallStarted("c-1", AT, Direction.INBOUND, "+79123456789", "Ann", "+74950000000", "sales")
    return LiveCall("c-1", 7, 70, started, **kw)


async def test_an_offer_goes_to_the_agent_it_reserves_the_task_for_only():
    n, out = notifier()
    offer = Offer("o-1", LeadTask(7, 70).encode(), "3", "chat", "default", 100.0, 120.0)
    await n.offer_created(offer, {"lead": {"id": 7}})
    await n.offer_cancelled(offer)
    assert out.recipients("offer.created") == [frozenset({3})] and out.recipients("offer.cancelled") == [frozenset({3})]
    [(_, _, data), _] = out.frames
    assert (data["lead_id"], data["timeout_seconds"], data["card"]) == (7, 20.0, {"lead": {"id": 7}})


async def test_a_lead_change_reaches_its_assignee_and_owner_but_not_who_made_it():
    n, out = notifier()
    await n.lead_updated(7, {"notes": ["", "x"]}, assignee_id=3, owner_id=4, changed_by=5)
    await n.lead_updated(7, {"notes": ["", "y"]}, assignee_id=3, owner_id=4, changed_by=3)
    await n.lead_updated(7, {"notes": ["", "z"]}, assignee_id=3, owner_id=None, changed_by=3)   # their own edit
    await n.lead_updated(7, {}, assignee_id=3, owner_id=4, changed_by=5)                         # nothing changed
    assert out.recipients("lead.updated") == [frozenset({3, 4}), frozenset({4})]


async def test_a_message_on_a_worked_lead_reaches_only_its_assignee():
    n, out = notifier()
    contact = InboundContact(channel="telegram", event_id="e-1", source_id="s", received_at=AT, text="hello")
    await n.message_received(3, 7, 71, contact)
    [(kind, to, data)] = out.frames
    assert (kind, to) == ("message.received", frozenset({3}))
    assert data == {"lead_id": 7, "interaction_id": 71, "channel": "telegram", "text": "hello", "subject": None,
                    "at": AT.isoformat()}


async def test_a_ring_pops_only_the_user_at_that_phone_and_its_end_reaches_those_it_was_given():
    n, out = notifier()
    call = a_call(rang_users={3, 4}, answered_by=4)
    await n.call_ringing(3, call, "101", None)
    await n.call_ring_stopped({3}, call, "answered_elsewhere")
    await n.call_answered(4, call, "102")
    await n.call_transferred(call, "103", "blind")
    ended = CallEnded("c-1", AT, Direction.INBOUND, CallOutcome.ANSWERED, 2.0, 5.0, 16, "Normal", None, "102",
                      ("101", "102"), "sales", "+79123456789")
    await n.call_card({3}, call, {"lead": {"id": 7}})
    await n.call_ended({4}, call, ended, False, None)
    assert [(kind, to) for kind, to, _ in out.frames] == [
        ("call.ringing", frozenset({3})), ("call.ring_stopped", frozenset({3})), ("call.answered", frozenset({4})),
        ("call.transferred", frozenset({4})), ("call.card", frozenset({3})), ("call.ended", frozenset({4}))]
    assert out.frames[4][2] == {"call_id": "c-1", "lead_id": 7, "card": {"lead": {"id": 7}}}
    assert not out.recipients("offer.cancelled")      # a phone that stops ringing is not a withdrawn offer
    assert out.frames[0][2]["extension"] == "101" and out.frames[0][2]["caller"] == "+79123456789"


async def test_an_unanswered_call_has_nobody_to_tell_of_a_transfer():
    n, out = notifier()
    await n.call_transferred(a_call(), "103", "blind")
    assert out.frames == []


async def test_queue_numbers_go_to_watchers_never_to_operators():
    n, out = notifier()
    await n.queue_stats({"queues": {}})
    await n.queue_stats_to(3, "operator", {"queues": {}})
    await n.queue_stats_to(4, "supervisor", {"queues": {}})
    assert out.recipients("queue.stats") == [frozenset({"manager", "supervisor", "admin"}), frozenset({4})]
    assert not Notifier.watches_queues("operator") and Notifier.watches_queues("admin")


async def test_an_ended_session_disconnects_only_its_user() -> None:
    notify, delivered = notifier()
    await notify.session_ended(7, "digest", "signed out")
    await notify.session_ended(8, None, "disabled")
    assert delivered.frames == [("disconnect", frozenset({7}), {"session": "digest", "reason": "signed out"}),
                                ("disconnect", frozenset({8}), {"session": None, "reason": "disabled"})]


async def test_a_moved_card_goes_to_the_open_boards_of_everyone_who_has_a_board_and_no_console():
    n, out = notifier()
    await n.lead_moved(7, 1, 10, 11, changed_by=3)
    assert out.recipients("lead.moved") == [frozenset({"board of operator", "board of manager", "board of supervisor",
                                                       "board of admin"})]
