"""Before a command touches the database or Redis: can we reach them? If not, one line saying what to fix.

A driver's own failure is a long traceback that names neither the setting nor the server; these
checks turn it into `database postgresql+asyncpg://sb@db:5432/sb: connection refused (check [database] url ...)`.
"""
from __future__ import annotations

import errno
import re

from redis.asyncio import Redis
from redis.exceptions import RedisError
from crm_store.session import StoreUnreachable, probe, shown_url, store_error_reason
from gateway.settings import Settings


class StartupFailure(Exception):
    """A resource the command needs is unusable; the message is the one line to print."""


def _reason(exc: BaseException) -> str:
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
    return re.sub(r"\s+", " ", text).strip()[:300]


async def check_database(url: str) -> None:
    try:
        await probe(url)
    except StoreUnreachable as exc:
        raise StartupFailure(f"database {shown_url(url)}: {exc} "
                             "(check [database] url / SWITCHBOARD_DATABASE__URL and that the server is up)") from exc


async def check_redis(url: str | None) -> None:
    if not url:
        return
    redis = Redis.from_url(url, socket_connect_timeout=5)
    try:
        await redis.ping()
    except (RedisError, OSError) as exc:
        raise StartupFailure(f"redis {re.sub(r'//[^@/]*@', '//', url)}: {_reason(exc)} "
                             "(check [redis] url / SWITCHBOARD_REDIS__URL and that the server is up)") from exc
    finally:
        await redis.aclose()


async def check(settings: Settings) -> None:
    await check_database(settings.database.url)
    await check_redis(settings.redis.url)


def explain(exc: BaseException) -> str | None:
    """The one line for a failure while starting (after the checks above passed), or None for a bug."""
    if isinstance(exc, StartupFailure):
        return str(exc)
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        where = re.sub(r"\s+", " ", str(exc))[:300]
        return f"cannot listen: {where} (another process has that port: change it in the settings, or stop that one)"
    if isinstance(exc, RedisError):
        return f"redis: {_reason(exc)} (check [redis] url and that the server is up)"
    if (reason := store_error_reason(exc)) is not None:
        return f"database: {reason} (check [database] url and that the server is up)"
    return None
