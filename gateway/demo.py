"""`switchboard demo`: the service with demo users and a steady stream of simulated contacts.

A newcomer signs in as the operator, goes available, and sees cards pop within a minute —
with no PBX, mail server or bot token. Each simulator speaks to the service the way the real
peer would (HTTP form posts, SMTP, the Telegram Bot API), so what the demo shows is what production does.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import secrets
import smtplib
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

import aiohttp
from aiohttp import web
from aiosmtpd.smtp import SMTP

from simulators.pbx.scenarios import demo_calls
from simulators.pbx.server import SimulatedPbx
from simulators.telegram_api import TOKEN, FakeBotApi, message

from channels.asterisk.config import AmiConfig
from channels.email.config import OutboundConfig, SmtpConfig
from channels.telegram.config import TelegramConfig
from crm_store.ingest import utcnow
from crm_store.migrate import upgrade_async
from crm_store.session import create_engine, session_factory
from crm_store.types import Role
from crm_store.users import NewUser, create_user, set_password, user_named
from gateway.app import create_app
from gateway.http_server import server_options
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
                user = await user_named(session, demo.username)
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


EMAIL_TEXTS = ("Добрый день! Пришлите, пожалуйста, счёт на оплату.", "Где мой заказ №5512?",
               "Bonjour, pouvez-vous me rappeler demain ?")


def e_mails(smtp_port: int) -> Simulator:
    """Clients writing to sales@ through the demo's own SMTP listener, sometimes answering a thread."""

    async def run(base_url: str, rng: random.Random) -> None:
        sent: list[str] = []
        while True:
            await asyncio.sleep(rng.uniform(8, 20))
            name = rng.choice(NAMES)
            mail = EmailMessage()
            mail["From"] = formataddr((name, f"client{rng.randrange(50)}@example.ru"))
            mail["To"] = "sales@shop.example"
            mail["Message-ID"] = make_msgid(domain="example.ru")
            if sent and rng.random() < 0.3:
                mail["Subject"], mail["References"] = "Re: Заказ", sent[-1]
            else:
                mail["Subject"] = "Заказ"
            sent.append(mail["Message-ID"])
            mail.set_content(rng.choice(EMAIL_TEXTS))
            try:
                await asyncio.to_thread(_send_mail, smtp_port, mail)
            except OSError as exc:
                log.warning("demo mail failed: %s", exc)

    return run


def phone_calls(pbx: SimulatedPbx) -> Simulator:
    """Callers ringing the demo PBX's queue: answered, abandoned, ring-all, rolling over to the next phone."""

    async def run(base_url: str, rng: random.Random) -> None:
        await demo_calls(pbx, every_seconds=15.0, rng=rng)

    return run


def _send_mail(port: int, mail: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.send_message(mail)


def telegram_chats(bot_api: FakeBotApi) -> Simulator:
    """Clients writing to the demo bot; some share their phone, some come from an ad's deep link."""

    async def run(base_url: str, rng: random.Random) -> None:
        message_ids = itertools.count(1)
        while True:
            await asyncio.sleep(rng.uniform(6, 15))
            chat = 5000 + rng.randrange(30)
            roll = rng.random()
            if roll < 0.2:
                bot_api.push({"message": message(chat, "/start utm_source-vk__utm_campaign-demo", next(message_ids))})
            elif roll < 0.35:
                bot_api.push({"message": message(chat, None, next(message_ids), contact={
                    "phone_number": f"+7912{rng.randrange(10**7):07d}", "first_name": "Ирина", "user_id": chat})})
            else:
                bot_api.push({"message": message(chat, rng.choice(MESSAGES), next(message_ids))})

    return run


class _MailSink:
    """The outside world's mail server: replies from the demo console are delivered here."""

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        log.info("demo reply delivered to %s", getattr(envelope, "rcpt_tos", "?"))
        return "250 OK"


async def _listen(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)     # a simulated peer: its long polls would bury the passwords
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


async def run_demo(settings: Settings) -> None:
    if settings.database.url.startswith("sqlite"):
        await upgrade_async(settings.database.url)
    passwords = await ensure_users(settings)
    # The peers a real installation would have, simulated on loopback and spoken to for real.
    bot_api = FakeBotApi()
    bot_runner, bot_port = await _listen(bot_api.app())
    bot_api.port = bot_port
    sink = await asyncio.get_running_loop().create_server(lambda: SMTP(_MailSink()), "127.0.0.1", 0)
    smtp_port = _free_port()
    # A PBX that speaks real AMI: the production voice adapter logs in to it as it would to Asterisk.
    pbx = SimulatedPbx(username="switchboard", secret=secrets.token_urlsafe(12))
    await pbx.start()
    settings = settings.model_copy(update={
        "ami": AmiConfig(host="127.0.0.1", port=pbx.port, username=pbx.username, secret=pbx.secret),
        "smtp": SmtpConfig(listen=f"127.0.0.1:{smtp_port}", domains=("shop.example",)),
        "email": OutboundConfig(smtp_host="127.0.0.1", smtp_port=sink.sockets[0].getsockname()[1], starttls=False,
                                from_address="sales@shop.example", from_name="Switchboard demo"),
        "telegram": TelegramConfig(token=TOKEN, base_url=f"http://127.0.0.1:{bot_port}/bot",
                                   base_file_url=f"http://127.0.0.1:{bot_port}/file/bot", poll_timeout=5),
    })
    simulators = {"form": form_posts, "email": e_mails(smtp_port), "telegram": telegram_chats(bot_api),
                  "phone": phone_calls(pbx)}
    runner = web.AppRunner(create_app(settings), access_log=None, **server_options(settings.http))   # logs: ours
    await runner.setup()
    site = web.TCPSite(runner, settings.http.host, settings.http.port)
    await site.start()
    base_url = f"http://{settings.http.host}:{settings.http.port}"
    print(f"Switchboard demo at {base_url}/  (wallboard: {base_url}/wallboard)")
    for demo in DEMO_USERS:
        print(f"  {demo.role.value:<10} {demo.username:<11} password {passwords[demo.username]}")
    print("Sign in as operator, press 'Available', and wait for the first card. Ctrl+C stops.")
    print("Simulated contacts: web forms, e-mail (SMTP), Telegram, and phone calls from a simulated PBX (AMI):")
    print("  the operator's phone is extension 101, the manager's 102; a ringing call pops the caller's card.")
    rng = random.Random()
    tasks = [asyncio.create_task(simulate(base_url, rng)) for simulate in simulators.values()]
    try:
        await asyncio.Event().wait()
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks)
        await runner.cleanup()
        await pbx.close()
        await bot_runner.cleanup()
        sink.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
