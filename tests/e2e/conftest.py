"""Browser fixtures for the UI tests: Debian's chromium driven by Playwright's async API."""
from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def shots_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where every UI test leaves its screenshot ($UI_SHOTS (not SWITCHBOARD_*: the service refuses unknown settings), or a pytest tmp dir)."""
    chosen = os.environ.get("UI_SHOTS")
    path = Path(chosen) if chosen else tmp_path_factory.mktemp("ui-shots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def browser_args() -> list[str]:
    """Chromium's command line; a test module adds flags by redefining this fixture."""
    return ARGS


@pytest.fixture
async def browser(browser_args: list[str]) -> AsyncIterator[object]:
    playwright_api = pytest.importorskip("playwright.async_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=browser_args)
        try:
            yield browser
        finally:
            await browser.close()


class Shots:
    def __init__(self, directory: Path, test_name: str) -> None:
        self.directory, self.test_name, self.taken = directory, re.sub(r"\W+", "_", test_name), 0

    async def take(self, page, label: str = "") -> Path:  # type: ignore[no-untyped-def]
        self.taken += 1
        path = self.directory / f"{self.test_name}{'-' + label if label else ''}.png"
        await page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path


@pytest.fixture
def shots(shots_dir: Path, request: pytest.FixtureRequest) -> Shots:
    return Shots(shots_dir, request.node.name)
