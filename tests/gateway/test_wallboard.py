"""The wallboard's pushes: one per burst of routing outcomes, a few a second at most, nothing for nobody, and
only the rows of agents that changed rebuilt. The clock and the timer are the test's (no waiting on time);
routing, the database and the frames are real."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from crm_store.models import User
from crm_store.types import Role
from gateway.notifier import Notifier
from gateway.routing import wallboard as board_module
from gateway.routing.wallboard import Wallboard
from routing.backends.memory import MemoryBackend
from routing.engine import RoutingEngine
from routing.types import Agent, Presence, QueueConfig


class Screens:
    """The fan-out as the supervisors' screens see it: every frame, and whether anyone watches."""

    def __init__(self) -> None:
        self.frames: list[tuple[str, Mapping[str, Any]]] = []
        self.watching = True

    async def to_users(self, user_ids: set[int], kind: str, data: Mapping[str, Any]) -> None:
        self.frames.append((kind, data))

    async def to_roles(self, roles: frozenset[str], kind: str, data: Mapping[str, Any]) -> None:
        self.frames.append((kind, data))

    async def disconnect(self, user_id: int, session: str | None, reason: str) -> None:
        return None

    def may_reach(self, roles: frozenset[str]) -> bool:
        return self.watching


class Timer:
    """The wallboard's timer, run by the test: what was scheduled and after how long."""

    def __init__(self) -> None:
        self.scheduled: list[tuple[float, Callable[[], None]]] = []
        self.cancelled = False

    def later(self, delay: float, callback: Callable[[], None]) -> "Timer":
        self.scheduled.append((delay, callback))
        return self

    def cancel(self) -> None:
        self.cancelled = True


class Setup:
    def __init__(self, sessions: Any) -> None:
        self.now = 1_800_000_000.0
        self.engine = RoutingEngine(MemoryBackend(), {"default": QueueConfig()}, lambda: self.now)
        self.screens = Screens()
        self.timer = Timer()
        self.spawned: list[Callable[[], Any]] = []
        self.board = Wallboard(self.engine, sessions, Notifier(self.screens), lambda: self.now, self.spawned.append,
                               later=self.timer.later)

    async def change(self, agent_id: str, presence: Presence) -> None:
        self.board.changed(await self.engine.set_presence(agent_id, presence, None))

    async def fire(self) -> None:
        """The scheduled push runs (as the loop would run it once its delay is over)."""
        delay, callback = self.timer.scheduled[-1]
        self.now += delay
        callback()
        await self.spawned.pop()()

    def pushes(self) -> list[Mapping[str, Any]]:
        return [data for kind, data in self.screens.frames if kind == "queue.stats"]


async def setup(sessions: Any, agents: int) -> Setup:
    s = Setup(sessions)
    # Rows straight into the table: nobody signs in here, and hashing a password per user would be most of the test.
    async with sessions() as session, session.begin():
        users = [User(username=f"op{n}", display_name=f"Operator {n:02d}", role=Role.OPERATOR.value,
                      password_hash="-", skills={}, capacity={"voice": 1}, locale="en", active=True,
                      created_at=datetime.now(UTC)) for n in range(agents)]
        session.add_all(users)
    for user in users:
        await s.engine.upsert_agent(Agent(id=str(user.id)))
    s.ids = [str(u.id) for u in users]      # type: ignore[attr-defined]
    return s


async def test_a_burst_of_outcomes_makes_one_push_and_the_next_waits_for_the_interval(sessions):
    s = await setup(sessions, 3)
    for agent in s.ids:                      # type: ignore[attr-defined]
        await s.change(agent, Presence.AVAILABLE)
    assert [delay for delay, _ in s.timer.scheduled] == [board_module.PUSH_GATHER]   # three outcomes, one push
    await s.fire()
    [first] = s.pushes()
    assert [row["presence"] for row in first["agents"]] == ["available"] * 3
    s.now += 0.2
    await s.change(s.ids[0], Presence.BREAK)  # type: ignore[attr-defined]
    await s.change(s.ids[1], Presence.BREAK)  # type: ignore[attr-defined]
    # 0.2 s after a push: the next one waits out the rest of the interval, and still only one is scheduled.
    assert len(s.timer.scheduled) == 2 and round(s.timer.scheduled[1][0], 6) == board_module.PUSH_EVERY - 0.2
    await s.fire()
    assert [row["presence"] for row in s.pushes()[1]["agents"]] == ["break", "break", "available"]
    s.now += 60                              # long after the last push: a new burst only gathers
    await s.change(s.ids[2], Presence.BREAK)  # type: ignore[attr-defined]
    assert s.timer.scheduled[2][0] == board_module.PUSH_GATHER


async def test_only_the_rows_of_agents_that_changed_are_rebuilt(sessions):
    s = await setup(sessions, 20)
    await s.change(s.ids[0], Presence.AVAILABLE)  # type: ignore[attr-defined]
    await s.fire()
    built = s.board.composed_rows
    assert built == 20
    await s.change(s.ids[5], Presence.AVAILABLE)  # type: ignore[attr-defined]
    await s.fire()
    assert s.board.composed_rows == built + 1
    rows = {row["user_id"]: row for row in s.pushes()[-1]["agents"]}
    assert rows[int(s.ids[5])]["presence"] == "available"  # type: ignore[attr-defined]
    assert rows[int(s.ids[6])]["presence"] == "offline"  # type: ignore[attr-defined]
    assert [row["display_name"] for row in s.pushes()[-1]["agents"]] == [f"Operator {n:02d}" for n in range(20)]


async def test_nobody_watching_means_no_push_and_a_supervisor_arriving_gets_it_right(sessions):
    s = await setup(sessions, 2)
    s.screens.watching = False
    await s.change(s.ids[0], Presence.AVAILABLE)  # type: ignore[attr-defined]
    await s.fire()
    assert s.pushes() == [] and s.board.composed_rows == 0
    fresh = await s.board.compose()           # what a supervisor who connects now is sent
    assert [row["presence"] for row in fresh["agents"]] == ["available", "offline"]
