"""`switchboard demo`: the service with demo users and a steady stream of simulated contacts.

A newcomer signs in as the operator, goes available, and sees cards pop within a minute —
with no PBX, mail server or bot token. Each simulator speaks to the service the way the real
peer would (HTTP form posts here), so what the demo shows is what production does.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from sqlalchemy import select

from crm_store.ingest import utcnow
from crm_store.migrate import upgrade_async
from crm_store.models import User
from crm_store.session import create_engine, session_factory
from crm_store.types import Role
from crm_store.users import NewUser, create_user, set_password
from gateway.app import create_app
from gateway.settings import Settings

log = logging.getLogger(__name__)

Simulator = Callable[[str, random.Random], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    role: Role
    extension: str | None
    display_name: str


DEMO_USERS = (
    DemoUser("operator", Role.OPERATOR, "101", "Ольга Оператор"),
    DemoUser("manager", Role.MANAGER, "102", "Максим Менеджер"),
    DemoUser("supervisor", Role.SUPERVISOR, None, "Светлана Супервайзер"),
)
NAMES = ("Анна Смирнова", "Иван Петров", "Марина Коваленко", "Арам Петросян", "Claire Dubois",
         "Олег Сидоренко", "Нина Акопян", "Jean Martin", "Дмитрий Орлов", "Екатерина Волкова")
MESSAGES = ("Перезвоните, пожалуйста, по поводу доставки", "Сколько стоит подключение?",
            "Хочу оформить заказ", "Bonjour, je voudrais un devis", "Не работает личный кабинет",
            "Нужна консультация по тарифам")
SOURCES = (("yandex", "cpc", "winter"), ("google", "cpc", "brand"), ("vk", "social", "stories"), ("", "", ""))


async def ensure_users(settings: Settings) -> dict[str, str]:
    """Create (or reset) the demo users; returns their fresh passwords."""
    engine = create_engine(settings.database.url)
    passwords: dict[str, str] = {}
    try:
        async with session_factory(engine)() as session, session.begin():
            for demo in DEMO_USERS:
                password = secrets.token_urlsafe(9)
                passwords[demo.username] = password
                user = await session.scalar(select(User).where(User.username == demo.username))
                if user is None:
                    await create_user(session, NewUser(demo.username, password, demo.role,
                                                       display_name=demo.display_name, extension=demo.extension,
                                                       team="demo", locale="ru"), utcnow())
                else:
                    await set_password(session, user, password)
    finally:
        await engine.dispose()
    return passwords


async def form_posts(base_url: str, rng: random.Random) -> None:
    """A website form: new clients and returning ones, with UTM tags, every few seconds."""
    known: list[str] = []
    async with aiohttp.ClientSession() as http:
        while True:
            await asyncio.sleep(rng.uniform(4, 10))
            phone = rng.choice(known) if known and rng.random() < 0.25 else f"+7912{rng.randrange(10**7):07d}"
            known.append(phone)
            source, medium, campaign = rng.choice(SOURCES)
            data = {"name": rng.choice(NAMES), "phone": phone, "message": rng.choice(MESSAGES),
                    "page": "https://example.ru/pricing"}
            if source:
                data.update(utm_source=source, utm_medium=medium, utm_campaign=campaign)
            try:
                async with http.post(f"{base_url}/forms/default", data=data) as response:
                    log.info("demo form post -> %s", response.status)
            except aiohttp.ClientError as exc:
                log.warning("demo form post failed: %s", exc)


SIMULATORS: dict[str, Simulator] = {"form": form_posts}


async def run_demo(settings: Settings) -> None:
    if settings.database.url.startswith("sqlite"):
        await upgrade_async(settings.database.url)
    passwords = await ensure_users(settings)
    runner = web.AppRunner(create_app(settings))
    await runner.setup()
    site = web.TCPSite(runner, settings.http.host, settings.http.port)
    await site.start()
    base_url = f"http://{settings.http.host}:{settings.http.port}"
    print(f"Switchboard demo at {base_url}/  (wallboard: {base_url}/wallboard)")
    for demo in DEMO_USERS:
        print(f"  {demo.role.value:<10} {demo.username:<11} password {passwords[demo.username]}")
    print("Sign in as operator, press 'Available', and wait for the first card. Ctrl+C stops.")
    rng = random.Random()
    tasks = [asyncio.create_task(simulate(base_url, rng)) for simulate in SIMULATORS.values()]
    try:
        await asyncio.Event().wait()
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks)
        await runner.cleanup()
