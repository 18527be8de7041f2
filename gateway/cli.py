"""The `switchboard` command: serve, migrate, user add / list / passwd / disable, import."""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from importlib import metadata

from aiohttp import web

from crm_store import audit, users
from crm_store.errors import StoreError
from crm_store.ingest import utcnow
from crm_store.migrate import upgrade
from crm_store.session import create_engine, session_factory
from crm_store.types import Role
from crm_store.users import NewUser, any_user_exists, create_user
from gateway import import_cli, logs, preflight
from gateway.app import create_app
from gateway.http_server import server_options
from gateway.keys import SESSIONS
from gateway.settings import Settings, SettingsError, load_settings


def _pairs(text: str, option: str, default_value: int | None = None) -> dict[str, int]:
    """`voice=1,chat=4` (or `sales:3,en` for skills, whose level defaults to 1)."""
    result: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.replace(":", "=").partition("=")
        if not sep and default_value is None:
            raise SystemExit(f"{option}: expected name=number, got {part!r}")
        try:
            result[name.strip()] = int(value) if sep else default_value  # type: ignore[assignment]
        except ValueError:
            raise SystemExit(f"{option}: {value!r} is not a whole number") from None
    return result


def _pace(value: str) -> float:
    try:
        pace = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not 1 <= pace <= 3600:
        raise argparse.ArgumentTypeError("the pace is from 1 to 3600 seconds between contacts")
    return pace


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="switchboard", description="Omnichannel contact center.")
    top.add_argument("--config", help="TOML settings file (default: $SWITCHBOARD_CONFIG)")
    top.add_argument("--version", action="version", version=f"switchboard {metadata.version('switchboard')}")
    sub = top.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the service with every configured channel")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    sub.add_parser("migrate", help="upgrade the configured database to the latest schema")
    demo = sub.add_parser("demo", help="demo users and a stream of simulated contacts on every channel")
    demo.add_argument("--host")
    demo.add_argument("--port", type=int)
    demo.add_argument("--pace", type=_pace, default=30.0,
                      help="seconds between simulated contacts on average (default 30: one every 20-40 s)")
    demo.add_argument("--lang", choices=("en", "ru"), default="en", help="the demo users' language (default en)")
    user = sub.add_parser("user", help="manage users").add_subparsers(dest="user_command", required=True)
    add = user.add_parser("add", help="create a user")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.add_argument("--display-name")
    add.add_argument("--extension")
    add.add_argument("--skills", default="", help="sales,en or sales:3,en:1")
    add.add_argument("--capacity", default="", help="voice=1,chat=4,email=8")
    add.add_argument("--team")
    add.add_argument("--locale", default="en")
    user.add_parser("list", help="every user: id, name, role, team, extension, active")
    passwd = user.add_parser("passwd", help="set a user's password (their sessions end)")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    disable = user.add_parser("disable", help="deactivate a user: no sign-in, no work offered, sessions end")
    disable.add_argument("name")
    import_cli.add_parser(sub)
    return top


async def _settle_memory(app: web.Application) -> None:
    """Leave what start-up built (modules, mappers, phone metadata) out of the cyclic GC's full passes.

    A full collection walks every tracked object; right after start-up that is a few hundred
    thousand of them, and the walk stalled a screen pop by ~120 ms (bench/screen_pop.py).
    """
    import gc

    from channels.identity import normalize_phone

    normalize_phone("+79123456789", None)      # phone metadata loads on first use: load it now
    gc.collect()
    gc.freeze()


FIRST_USER_HINT = ("no user exists yet, so nobody can sign in: create the first one with "
                   "`switchboard user add admin --role admin` (it asks for the password)")


async def _hint_first_user(app: web.Application) -> None:
    """A fresh install has no users; say how to make one rather than leave a sign-in page nobody passes."""
    async with app[SESSIONS]() as session:
        if not await any_user_exists(session):
            logging.getLogger("switchboard").warning(FIRST_USER_HINT)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        overrides = {}
        if getattr(args, "host", None):
            overrides["http__host"] = args.host
        if getattr(args, "port", None) is not None:
            overrides["http__port"] = args.port
        settings = load_settings(args.config, **overrides)
    except SettingsError as exc:
        print(f"switchboard: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log, settings.log_level_name)
    try:
        return _run(args, settings)
    except Exception as exc:
        line = preflight.explain(exc)
        if line is None:
            raise           # a bug: its traceback is what a report needs
        print(f"switchboard: {line}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command in ("serve", "demo"):
        # Pops wait on short hops to the SQLite writer and card threads; with the default 5 ms switch
        # interval each hop can wait that long for the GIL under load (bench/screen_pop.py: p50 halves).
        # 1 ms measured best (session 18, loaded machine): 0.5 ms took 17-37% more server CPU a call, 5 ms made
        # the server's own pop (AMI read -> frame written) 1.4-4x longer. bench/README.md, screen pop.
        sys.setswitchinterval(settings.http.switch_interval_ms / 1000)
    if args.command == "serve":
        asyncio.run(preflight.check(settings))
    elif args.command in ("migrate", "user", "import"):
        asyncio.run(preflight.check_database(settings.database.url))
    if args.command == "serve":
        try:
            app = create_app(settings)
        except SettingsError as exc:        # a channel's own table ([telegram], [ami], …) is checked here
            print(f"switchboard: {exc}", file=sys.stderr)
            return 2
        app.on_startup.append(_hint_first_user)
        app.on_startup.append(_settle_memory)
        web.run_app(app, host=settings.http.host, port=settings.http.port, access_log=None,   # ours: gateway/logs.py
                    **server_options(settings.http),
                    print=lambda _: print(f"switchboard listening on http://{settings.http.host}:{settings.http.port}"))
        return 0
    if args.command == "demo":
        from gateway.demo import run_demo

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_demo(settings, pace=args.pace, lang=args.lang))
        return 0
    if args.command == "migrate":
        upgrade(settings.database.url)
        print("database is at the latest schema")
        return 0
    if settings.database.url.startswith("sqlite"):
        upgrade(settings.database.url)   # the embedded default needs no separate `migrate` step
    if args.command == "import":
        return import_cli.run_import(settings, args)
    if args.user_command == "list":
        return asyncio.run(_in_store(settings, _list_users))
    if args.user_command in ("passwd", "disable"):
        password = _password(args) if args.user_command == "passwd" else None
        if args.user_command == "passwd" and password is None:
            return 2
        return asyncio.run(_in_store(settings, lambda session: _change_user(session, args.name, password)))
    return _add_user(settings, args)


def _password(args: argparse.Namespace) -> str | None:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if sys.stdin.isatty():
        return getpass.getpass(f"password for {args.name}: ")
    print("switchboard: give --password-stdin or run in a terminal", file=sys.stderr)
    return None


async def _in_store(settings: Settings, work: Callable[[Any], Awaitable[int]]) -> int:
    """Run `work(session)` in one transaction; a refusal of the store is one line and exit status 1."""
    engine = create_engine(settings.database.url)
    try:
        async with session_factory(engine)() as session, session.begin():
            return await work(session)
    except StoreError as exc:
        print(f"switchboard: {exc.message}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()


async def _list_users(session: Any) -> int:
    teams = {team_id: name for name, team_id in (await users.team_ids(session)).items()}
    print("id\tusername\trole\tteam\textension\tactive")
    for u in await users.list_users(session):
        print(f"{u.id}\t{u.username}\t{u.role}\t{teams.get(u.team_id, '-')}\t{u.extension or '-'}\t"
              f"{'yes' if u.active else 'no'}")
    return 0


async def _change_user(session: Any, name: str, password: str | None) -> int:
    """A new password, or (None) deactivation; either way the user's sessions end. Routing follows when the
    user's screen next connects or the sweeper compares (the CLI runs outside the service)."""
    user = await users.user_named(session, name)
    if user is None:
        print(f"switchboard: no user named {name!r}", file=sys.stderr)
        return 1
    if password is not None:
        await users.set_password(session, user, password)
        action, said = "user.passwd", f"password of {name} changed; their sessions ended"
    else:
        await users.update_user(session, user, {"active": False})
        await users.close_sessions(session, user.id)
        action, said = "user.disable", f"user {name} disabled; their sessions ended"
    audit.record(session, action, utcnow(), detail={"actor": "cli", "user_id": user.id, "username": name})
    print(said)
    return 0


def _add_user(settings: Settings, args: argparse.Namespace) -> int:
    password = _password(args)
    if password is None:
        return 2
    new = NewUser(username=args.name, password=password, role=Role(args.role), display_name=args.display_name,
                  extension=args.extension, skills=_pairs(args.skills, "--skills", 1),
                  capacity=_pairs(args.capacity, "--capacity") or None, team=args.team, locale=args.locale)

    async def run() -> int:
        engine = create_engine(settings.database.url)
        try:
            async with session_factory(engine)() as session, session.begin():
                user = await create_user(session, new, utcnow())
            print(f"user {user.username} ({user.role}) created with id {user.id}")
            return 0
        except StoreError as exc:
            print(f"switchboard: {exc.message}", file=sys.stderr)
            return 1
        finally:
            await engine.dispose()

    return asyncio.run(run())
