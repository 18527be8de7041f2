"""Fixtures shared by every test package: databases on both engines, settings, clocks."""
from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from crm_store import connection_owner
from crm_store.migrate import upgrade
from crm_store.session import create_engine, session_factory
from support.postgres_server import running_postgres
from support.redis_server import redis_url  # noqa: F401  (a fixture, shared by every package)

_names = itertools.count(1)

# Every engine the tests make, and every server they start (which inherit the environment), refuses a statement
# sent on a connection another task checked out: a session shared between tasks fails every run, not only on a
# busy machine (crm_store.connection_owner).
os.environ.setdefault(connection_owner.ENV, "1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `long` go first: started last, one of them alone would keep a parallel run waiting."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy, which is far faster than migrating again."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    with running_postgres() as hostport:
        yield hostport


def _psql(hostport: str, sql: str) -> None:
    host, port = hostport.split(":")
    subprocess.run(["psql", "-h", host, "-p", port, "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1",
                    "-qc", sql], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str) -> str:
    _psql(postgres_server, "CREATE DATABASE switchboard_template")
    upgrade(f"postgresql+asyncpg://postgres@{postgres_server}/switchboard_template")
    return "switchboard_template"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated, empty database on each engine we support."""
    if request.param == "sqlite":
        path = tmp_path / "switchboard.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    yield request.getfixturevalue("postgres_database")


@pytest.fixture
def postgres_database(postgres_server: str, postgres_template: str) -> Iterator[str]:
    """A freshly migrated, empty PostgreSQL database (also for servers run as their own processes)."""
    name = f"test_{os.getpid()}_{next(_names)}"
    _psql(postgres_server, f"CREATE DATABASE {name} TEMPLATE {postgres_template}")
    yield f"postgresql+asyncpg://postgres@{postgres_server}/{name}"
    _psql(postgres_server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)
