"""The hub's user hooks at shutdown: nothing left half-made."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from crm_store.types import Role
from gateway.auth_types import Principal
from gateway.hub import Hub


async def test_a_gone_hook_cancelled_at_shutdown_before_it_ran_is_never_called():
    """Calling the hook makes its coroutine: made before its task starts and then cancelled, that coroutine is
    never awaited (Python warns "coroutine ... was never awaited" at every such shutdown)."""
    hub = Hub()
    called: list[int] = []

    async def work() -> None:
        pass

    def gone(who: Principal) -> Awaitable[None]:
        called.append(who.user_id)
        return work()

    hub.on_gone.append(gone)
    who = Principal(7, "op7", "Op", Role.OPERATOR, None, "en", "token7")
    hub._gone(who)          # the grace period ends just as the server stops: the hook's task is not started yet
    started = list(hub._tasks)
    await hub.close_all()
    await asyncio.gather(*started, return_exceptions=True)
    assert started and all(task.cancelled() for task in started)
    assert called == []
