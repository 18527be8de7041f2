"""The simulated PBX and a logged-in panoramisk client, shared by the tests of the PBX itself."""
from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from simulators.pbx.server import SimulatedPbx
from support.ami_client import SECRET, Client


@pytest.fixture
async def pbx() -> AsyncIterator[SimulatedPbx]:
    async with SimulatedPbx(username="switchboard", secret=SECRET) as running:
        yield running


@pytest.fixture
async def client(pbx: SimulatedPbx) -> AsyncIterator[Client]:
    c = Client(pbx)
    reply = await c.login()
    assert reply.success
    yield c
    c.manager.close()
