"""The operator console and the supervisor wallboard: a static web app (HTML, CSS, ES modules)."""
from __future__ import annotations

from pathlib import Path

PAGES = {"login": "login.html", "console": "console.html", "wallboard": "wallboard.html", "board": "board.html"}


def static_dir() -> Path:
    """The folder the gateway serves under /ui/."""
    return Path(__file__).resolve().parent / "static"


def page_path(name: str) -> Path:
    """The HTML file of a page: login, console or wallboard."""
    return static_dir() / PAGES[name]
