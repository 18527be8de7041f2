"""A command that cannot reach or read what it needs stops with one line naming what to fix, and a non-zero code."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support.postgres_server import free_port

COMMANDS = {
    "serve": ["serve", "--port", "0"],
    "migrate": ["migrate"],
    "user add": ["user", "add", "olga", "--role", "admin", "--password-stdin"],
}


def run(tmp_path: Path, args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], cwd=tmp_path, input="a long password\n",
                          env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=300)


def the_one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("switchboard: ")
    return lines[0]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("url, expected", [
    ("mysql+nosuchdriver://u@127.0.0.1/db", "database.url: Value error, not a database URL SQLAlchemy knows"),
    ("postgresql://u@127.0.0.1/db", "database.url: Value error, needs an asyncio driver"),
    ("not a url", "database.url: Value error, not a database URL"),
])
def test_a_wrong_database_url_names_the_setting(tmp_path: Path, command: str, url: str, expected: str) -> None:
    line = the_one_line(run(tmp_path, COMMANDS[command], SWITCHBOARD_DATABASE__URL=url))
    assert expected in line and "postgresql+asyncpg://" in line


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unreachable_postgresql_names_the_server_and_the_setting(tmp_path: Path, command: str) -> None:
    port = free_port()
    url = f"postgresql+asyncpg://sb:secret@127.0.0.1:{port}/sb"
    line = the_one_line(run(tmp_path, COMMANDS[command], SWITCHBOARD_DATABASE__URL=url))
    assert line.startswith(f"switchboard: database postgresql+asyncpg://sb:***@127.0.0.1:{port}/sb: ")
    assert "check [database] url" in line and "secret" not in line


def test_a_sqlite_file_in_a_missing_folder(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/no/such/folder/x.db"
    line = the_one_line(run(tmp_path, ["migrate"], SWITCHBOARD_DATABASE__URL=url))
    assert "unable to open database file" in line and "check [database] url" in line


def test_a_missing_config_file(tmp_path: Path) -> None:
    line = the_one_line(run(tmp_path, ["--config", "nowhere.toml", "serve"]))
    assert line == "switchboard: cannot read config file nowhere.toml: No such file or directory"


def test_a_bad_redis_url_names_the_setting(tmp_path: Path) -> None:
    line = the_one_line(run(tmp_path, COMMANDS["serve"], SWITCHBOARD_REDIS__URL="http://127.0.0.1:6379"))
    assert "redis.url: Value error, expected redis://host:port/db" in line


def test_an_unreachable_redis_names_the_server_and_the_setting(tmp_path: Path) -> None:
    port = free_port()
    url = f"redis://:secret@127.0.0.1:{port}/0"
    line = the_one_line(run(tmp_path, COMMANDS["serve"], SWITCHBOARD_REDIS__URL=url))
    assert line.startswith(f"switchboard: redis redis://127.0.0.1:{port}/0: ") and "check [redis] url" in line
    assert "secret" not in line
