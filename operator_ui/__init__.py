"""The operator console and the supervisor wallboard: a static web app (HTML, CSS, ES modules)."""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

PAGES = {"login": "login.html", "console": "console.html", "wallboard": "wallboard.html", "tasks": "tasks.html",
         "board": "board.html", "admin": "admin.html", "imports": "imports.html",
         "reports": "reports.html"}
# Served at /<name> to a signed-in user; a stranger is sent to /login?next=/<name>.
SIGNED_IN_PAGES = tuple(name for name in PAGES if name != "login")
# Pages about one record, each served by its own route (/clients/{id}), signed in too.
RECORD_PAGES = {"client": "client.html"}


def static_dir() -> Path:
    """The folder the gateway serves under /ui/."""
    return Path(__file__).resolve().parent / "static"


def page_path(name: str) -> Path:
    """The HTML file of a page (a key of PAGES)."""
    return static_dir() / (PAGES | RECORD_PAGES)[name]


@cache
def languages() -> dict[str, str]:
    """The console's languages (code -> own name), from the data file the language switch reads too."""
    return dict(json.loads((static_dir() / "i18n" / "languages.json").read_text(encoding="utf-8")))
