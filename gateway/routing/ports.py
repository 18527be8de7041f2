"""What voice and the HTTP API may ask of live routing; the driver's insides stay behind these."""
from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from crm_store.models import User
from routing.backends import Snapshot
from routing.events import RoutingOutcome
from routing.types import AgentState, Presence, QueueConfig, Task

PresenceListener = Callable[[int, Presence, "str | None"], Awaitable[None]]
WallboardExtra = Callable[[dict[str, Any]], Awaitable[None]]


class AgentView(Protocol):
    """Agents as routing sees them right now (the FastAGI chooser)."""

    async def agent(self, user_id: int) -> AgentState | None: ...

    async def snapshot(self) -> Snapshot: ...


class TaskRouting(AgentView, Protocol):
    """Tasks made outside ingest (calls, callbacks) and presence that did not come from a screen."""

    async def add_task(self, task: Task) -> RoutingOutcome: ...

    async def end_task(self, task_id: str) -> None: ...

    async def set_presence(self, user_id: int, presence: Presence, reason: str | None,
                           source: str = "routing") -> None: ...


class LeadRouting(Protocol):
    """What the HTTP API's changes mean for routing."""

    async def lead_finished(self, lead_id: int) -> None: ...

    async def task_finished(self, task_id: str, state: str) -> None: ...

    async def sync_user(self, user: User) -> None: ...

    async def take(self, task_id: str, user_id: int) -> RoutingOutcome: ...

    async def set_priority(self, task_id: str, priority: int) -> RoutingOutcome: ...


class Routing(TaskRouting, LeadRouting, Protocol):
    """Everything the rest of the gateway may ask of live routing."""

    @property
    def queues(self) -> Mapping[str, QueueConfig]: ...


class WallboardView(Protocol):
    """The supervisors' numbers, with room for what other parts add to each push (calls in progress)."""

    extras: list[WallboardExtra]

    async def compose(self) -> dict[str, Any]: ...


class PresenceHooks(Protocol):
    """Who hears of a presence set on an operator's screen (the PBX pauses its queue members)."""

    presence_listeners: list[PresenceListener]
