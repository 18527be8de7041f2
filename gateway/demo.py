"""`switchboard demo`: the service with demo users and a steady stream of simulated contacts.

A newcomer signs in as the operator, goes available, and sees cards pop within a minute —
with no PBX, mail server or bot token. Each simulator speaks to the service the way the real
peer would (HTTP form posts, SMTP, the Telegram Bot API), so what the demo shows is what production does.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import random
import secrets
import smtplib
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

import aiohttp
from aiohttp import web
from aiosmtpd.smtp import SMTP

from simulators.pbx.scenarios import abandoned, queue_call, ring_all, rollover
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
from gateway import logs
from gateway.app import create_app
from gateway.http_server import server_options
from gateway.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    role: Role
    extension: str | None
    names: dict[str, str]          # display name per language


DEMO_USERS = (
    DemoUser("operator", Role.OPERATOR, "101", {"en": "Olga Operator", "ru": "Ольга Оператор"}),
    DemoUser("manager", Role.MANAGER, "102", {"en": "Max Manager", "ru": "Максим Менеджер"}),
    DemoUser("supervisor", Role.SUPERVISOR, None, {"en": "Sveta Supervisor", "ru": "Светлана Супервайзер"}),
)
LANGUAGES = ("en", "ru")
# The simulated PBX's number and queue, as a pop names them ("Call to the sales line"), per language.
LINE_NAMES = {"en": {"6000": "the sales line", "sales": "Sales"}, "ru": {"6000": "линию продаж", "sales": "Продажи"}}
NAMES = ("Анна Смирнова", "Иван Петров", "Марина Коваленко", "Арам Петросян", "Claire Dubois",
         "Олег Сидоренко", "Нина Акопян", "Jean Martin", "Дмитрий Орлов", "Екатерина Волкова")
MESSAGES = ("Перезвоните, пожалуйста, по поводу доставки", "Сколько стоит подключение?",
            "Хочу оформить заказ", "Bonjour, je voudrais un devis", "Не работает личный кабинет",
            "Нужна консультация по тарифам")
SOURCES = (("yandex", "cpc", "winter"), ("google", "cpc", "brand"), ("vk", "social", "stories"), ("", "", ""))


PACE_SECONDS = 30.0      # one contact every 20-40 s: what one operator can answer and write up


@dataclass
class Crowd:
    """The demo's clients: some come back (a known caller pops a card with history), most are new."""

    rng: random.Random
    regulars: list[tuple[str, str]] = field(default_factory=list)      # (phone, name)
    returning: float = 0.35

    def someone(self) -> tuple[str, str]:
        if self.regulars and self.rng.random() < self.returning:
            return self.rng.choice(self.regulars)
        return self.newcomer()

    def newcomer(self) -> tuple[str, str]:
        person = (f"+7912{self.rng.randrange(10**7):07d}", self.rng.choice(NAMES))
        self.regulars.append(person)
        return person


def email_of(phone: str) -> str:
    """A client's address, the same every time, so that their e-mails join what they sent by form or phone."""
    return f"client{phone[-7:]}@example.ru"


def next_gap(pace: float, rng: random.Random) -> float:
    """Seconds to the next contact: `pace` on average, never closer than two thirds of it."""
    return rng.uniform(pace * 2 / 3, pace * 4 / 3)


OneContact = Callable[[tuple[str, str]], Awaitable[None]]


async def stream(contacts: dict[str, OneContact], crowd: Crowd, pace: float,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
    """Forever: one contact at a time, on a channel picked at random, at `pace` seconds apart on average."""
    channels = sorted(contacts)
    while True:
        await sleep(next_gap(pace, crowd.rng))
        channel = crowd.rng.choice(channels)
        try:
            await contacts[channel](crowd.someone())
        except (OSError, aiohttp.ClientError) as exc:
            log.warning("demo %s contact failed: %s", channel, exc)


class QuietPolls(logging.Filter):
    """Keeps the screens' polling out of the demo's output (the passwords stay on screen): only changes and
    failures are logged per request."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if len(args) == 3 and args[0] in ("GET", "HEAD"):
            try:
                return int(args[2]) >= 400
            except (TypeError, ValueError):
                return True
        return True


async def ensure_users(settings: Settings, lang: str = "en") -> dict[str, str]:
    """Create (or reset) the demo users in `lang`; returns their fresh passwords."""
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
                                                       display_name=demo.names[lang], extension=demo.extension,
                                                       team="demo", locale=lang), utcnow())
                else:
                    await set_password(session, user, password)
                    user.locale, user.display_name = lang, demo.names[lang]
    finally:
        await engine.dispose()
    return passwords


def form_post(http: aiohttp.ClientSession, base_url: str, rng: random.Random) -> OneContact:
    """A website form, with UTM tags."""

    async def post(person: tuple[str, str]) -> None:
        phone, name = person
        source, medium, campaign = rng.choice(SOURCES)
        data = {"name": name, "phone": phone, "email": email_of(phone), "message": rng.choice(MESSAGES),
                "page": "https://example.ru/pricing"}
        if source:
            data.update(utm_source=source, utm_medium=medium, utm_campaign=campaign)
        async with http.post(f"{base_url}/forms/default", data=data) as response:
            log.debug("demo form post -> %s", response.status)

    return post


EMAIL_TEXTS = ("Добрый день! Пришлите, пожалуйста, счёт на оплату.", "Где мой заказ №5512?",
               "Bonjour, pouvez-vous me rappeler demain ?")


def e_mail(smtp_port: int, rng: random.Random) -> OneContact:
    """A client writing to sales@ through the demo's own SMTP listener."""

    async def send(person: tuple[str, str]) -> None:
        phone, name = person
        mail = EmailMessage()
        mail["From"] = formataddr((name, email_of(phone)))
        mail["To"] = "sales@shop.example"
        mail["Message-ID"] = make_msgid(domain="example.ru")
        mail["Subject"] = "Заказ"
        mail.set_content(rng.choice(EMAIL_TEXTS))
        await asyncio.to_thread(_send_mail, smtp_port, mail)

    return send


def phone_call(pbx: SimulatedPbx, rng: random.Random) -> OneContact:
    """A caller ringing the demo PBX's queue: answered, abandoned, ring-all, rolling over to the next phone."""

    async def ring(person: tuple[str, str]) -> None:
        phone, name = person
        kind = rng.choice(("answered", "answered", "abandoned", "ring_all", "rollover"))
        timing = {"caller": phone, "caller_name": name, "ring_seconds": rng.uniform(4, 10),
                  "talk_seconds": rng.uniform(15, 60)}
        if kind == "answered":
            pbx.spawn(queue_call(pbx, extensions=[rng.choice(("101", "102"))], **timing))
        elif kind == "abandoned":
            pbx.spawn(abandoned(pbx, wait_seconds=rng.uniform(3, 8), **timing))
        elif kind == "ring_all":
            pbx.spawn(ring_all(pbx, answered_by=rng.choice(("101", "102")), **timing))
        else:
            pbx.spawn(rollover(pbx, **timing))

    return ring


def _send_mail(port: int, mail: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.send_message(mail)


def telegram_chat(bot_api: FakeBotApi, rng: random.Random) -> OneContact:
    """A client writing to the demo bot; some share their phone, some come from an ad's deep link."""
    message_ids = itertools.count(1)

    async def write(person: tuple[str, str]) -> None:
        phone, name = person
        chat = 5000 + int(phone[-4:])
        roll = rng.random()
        if roll < 0.2:
            bot_api.push({"message": message(chat, "/start utm_source-vk__utm_campaign-demo", next(message_ids))})
        elif roll < 0.5:
            bot_api.push({"message": message(chat, None, next(message_ids), contact={
                "phone_number": phone, "first_name": name.split()[0], "user_id": chat})})
        else:
            bot_api.push({"message": message(chat, rng.choice(MESSAGES), next(message_ids))})

    return write


SEED_DEALS = ((4_500_000, "ООО «Ромашка»"), (1_290_000, "ИП Петров"), (780_000, None))


async def seed_regulars(http: aiohttp.ClientSession, base_url: str, crowd: Crowd, password: str) -> None:
    """A few clients with history before the first contact: a deal with an amount, a company, the manager as
    owner; when one of them calls, the card that pops has something to say."""
    async with http.post(f"{base_url}/api/v1/auth/login", json={"username": "manager", "password": password}) as r:
        auth = {"Authorization": f"Bearer {(await r.json())['token']}"}
    for amount, company in SEED_DEALS:
        phone, name = crowd.newcomer()      # three different clients, each with a deal of their own
        data = {"name": name, "phone": phone, "email": email_of(phone), "message": crowd.rng.choice(MESSAGES),
                "utm_source": "yandex", "utm_campaign": "winter"}
        async with http.post(f"{base_url}/forms/default", data=data) as response:
            lead_id = (await response.json())["lead_id"]
        async with http.post(f"{base_url}/api/v1/leads/{lead_id}/take", headers=auth) as response:
            if response.status >= 400:
                continue        # someone was quicker: the client is known all the same
        await http.patch(f"{base_url}/api/v1/leads/{lead_id}", json={"amount": amount, "currency": "RUB"},
                         headers=auth)
        if company:
            async with http.post(f"{base_url}/api/v1/companies", json={"name": company}, headers=auth) as response:
                company_id = (await response.json())["id"]
            async with http.get(f"{base_url}/api/v1/leads/{lead_id}", headers=auth) as response:
                contact_id = (await response.json())["contact"]["id"]
            await http.put(f"{base_url}/api/v1/contacts/{contact_id}/companies/{company_id}", json={}, headers=auth)


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


async def run_demo(settings: Settings, pace: float = PACE_SECONDS, lang: str = "en") -> None:
    if settings.database.url.startswith("sqlite"):
        await upgrade_async(settings.database.url)
    passwords = await ensure_users(settings, lang)
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
        "console": settings.console.model_copy(update={"source_labels": {
            **LINE_NAMES[lang], **settings.console.source_labels}}),
        "telegram": TelegramConfig(token=TOKEN, base_url=f"http://127.0.0.1:{bot_port}/bot",
                                   base_file_url=f"http://127.0.0.1:{bot_port}/file/bot", poll_timeout=5),
    })
    runner = web.AppRunner(create_app(settings), access_log=None, **server_options(settings.http))   # logs: ours
    await runner.setup()
    site = web.TCPSite(runner, settings.http.host, settings.http.port)
    await site.start()
    base_url = f"http://{settings.http.host}:{settings.http.port}"
    quiet = QuietPolls()
    logs.access_log.addFilter(quiet)
    logging.getLogger("mail.log").setLevel(logging.WARNING)     # aiosmtpd: a dozen lines per simulated e-mail
    crowd = Crowd(random.Random())
    http = aiohttp.ClientSession()
    try:
        await seed_regulars(http, base_url, crowd, passwords["manager"])       # before the passwords: they stay last
        print(f"Switchboard demo at {base_url}/  (wallboard: {base_url}/wallboard)")
        for demo in DEMO_USERS:
            print(f"  {demo.role.value:<10} {demo.username:<11} password {passwords[demo.username]}")
        print("Sign in as operator, press 'Available', and wait for the first card. Ctrl+C stops.")
        print(f"Simulated contacts, one every {pace * 2 / 3:.0f}-{pace * 4 / 3:.0f} s (--pace): web forms, e-mail (SMTP),")
        print("  Telegram, and phone calls from a simulated PBX (AMI): the operator's phone is extension 101, the")
        print("  manager's 102; some callers are clients with a deal already, and their card says so.")
        contacts = {"form": form_post(http, base_url, crowd.rng), "email": e_mail(smtp_port, crowd.rng),
                    "telegram": telegram_chat(bot_api, crowd.rng), "phone": phone_call(pbx, crowd.rng)}
        await stream(contacts, crowd, pace)
    finally:
        logs.access_log.removeFilter(quiet)
        await http.close()
        await runner.cleanup()
        await pbx.close()
        await bot_runner.cleanup()
        sink.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
