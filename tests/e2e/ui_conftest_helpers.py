"""The real gateway for browser tests: an app on 127.0.0.1 over a copied SQLite database, and helpers.

Test modules import the fixtures they use from here (`from ui_conftest_helpers import ui, ...`).
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer

from channels.types import Delivery, OutboundMessage
from crm_store.types import Role
from gateway.app import create_app
from gateway.settings import load_settings
from support.gateway_app import PASSWORD, Api, make_settings

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@dataclass
class Ui(Api):
    """The running app plus what a browser test needs: its URL and a signed-in page."""

    errors: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.client.port}"

    async def new_page(self, browser: Any, *, viewport: dict[str, int] | None = None, **context: Any) -> Any:
        ctx = await browser.new_context(base_url=self.url, viewport=viewport or {"width": 1400, "height": 900},
                                        **context)
        ctx.set_default_timeout(30_000)     # generous: a busy machine is slow, never wrong
        page = await ctx.new_page()
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("console", self._console)
        return page

    def _console(self, message: Any) -> None:
        # A refused request (401, 403, 404) is logged by the browser itself; the page handles it.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(f"console: {message.text}")

    async def sign_in(self, page: Any, name: str, *, to: str = "/console") -> None:
        """Through the sign-in page, as a person would."""
        await page.goto(f"/login?next={to}")
        await page.fill("#username", name)
        await page.fill("#password", PASSWORD)
        await page.click("#login-submit")
        # The path itself: a glob like "**/console" already matches "/login?next=/console".
        await page.wait_for_url(lambda url: urlsplit(url).path == to)

    async def post_form(self, **fields: str) -> int:
        response = await self.client.post("/forms/default", data=fields)
        assert response.status == 201, await response.text()
        return int((await response.json())["lead_id"])


@pytest.fixture
def ui_settings() -> dict[str, Any]:
    """Tests override settings sections by redefining this fixture."""
    return {}


@pytest.fixture
async def ui(database_url: str, ui_settings: dict[str, Any], tmp_path) -> AsyncIterator[Ui]:  # type: ignore[no-untyped-def]
    assert database_url.startswith("sqlite"), "browser tests run on SQLite only"
    # Offers and dropped sockets wait far longer than any browser step takes on a busy machine.
    routing = load_settings(None).model_dump()["routing"]
    routing["disconnect_grace_seconds"] = 300
    for queue in routing["queues"].values():
        queue["offer_timeout"] = 300
    sections = {"storage": {"dir": str(tmp_path / "files")}, "routing": routing,
                "forms": {"default": {"rate_per_minute": 100000, "burst": 1000}}, **ui_settings}
    app = create_app(make_settings(database_url, **sections))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        running = Ui(client)
        yield running
        for error in running.errors:
            print(f"browser said: {error}")


class RecordingResponder:
    """A messenger that records replies, or refuses them with `fail`."""

    def __init__(self, channel: str, fail: str | None = None) -> None:
        self.channel, self.fail = channel, fail
        self.sent: list[OutboundMessage] = []

    async def send(self, message: OutboundMessage) -> Delivery:
        self.sent.append(message)
        if self.fail:
            return Delivery(ok=False, error=self.fail)
        return Delivery(ok=True, provider_id=f"m-{len(self.sent)}")


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


__all__ = ["SQLITE_ONLY", "PASSWORD", "RecordingResponder", "Role", "Ui", "eventually", "ui", "ui_settings"]
