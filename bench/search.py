"""Lead search over 100,000 leads on SQLite and PostgreSQL, against a bare indexed lookup in the same run.

    python bench/search.py [--leads 100000] [--queries 300] [--engines sqlite,postgresql]

For each engine: a fresh database migrated to head, then N clients each with a phone, half with an
e-mail, Cyrillic and Latin names (some with ё and diacritics), a lead each with a message, written
with Core bulk inserts and the search text the store would compute. Then a mix of searches goes
through `crm_store.leads.list_leads` exactly as `GET /api/v1/leads?q=` runs it (a supervisor, 50 a
page): surnames in another case, ё spelled е, names without their accents, phone fragments, whole
phones in national spelling, exact e-mails, words of the message. The baseline is the cheapest
indexed read of the same table: one lead by primary key. Prints p50/p95 of each and the ratio.
"""
from __future__ import annotations

import _paths  # noqa: F401  (first: see bench/_paths.py)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

from sqlalchemy import insert, select  # noqa: E402

from crm_store import leads, search  # noqa: E402
from crm_store.migrate import upgrade  # noqa: E402
from crm_store.models import Contact, Identity, Interaction, Lead  # noqa: E402
from crm_store.session import create_engine, session_factory  # noqa: E402
from crm_store.types import LeadFilter, Role, Viewer  # noqa: E402
from support.postgres_server import running_postgres  # noqa: E402

FIRST = ["Армен", "Фёдор", "Анна", "Ольга", "Пётр", "Иван", "Zoë", "José", "Hélène", "Jürgen", "Ahmed", "Maria",
         "Сергей", "Наталья", "Алёна", "François", "Łukasz", "Søren", "Άννα", "Ирина"]
LAST = ["Петросян", "Ёлкин", "Иванов", "Смирнова", "Кузнецов", "Müller", "Ågren", "García", "Dubois", "Nowak",
        "Соколова", "Попов", "Лебедев", "Козлов", "Новикова", "Mørk", "Čapek", "Öztürk", "Васильев", "Фёдорова"]
WORDS = ["доставка", "счёт", "crème brûlée", "возврат", "консультация", "order", "invoice", "скидка", "ремонт",
         "гарантия"]
T0 = datetime(2026, 11, 1, tzinfo=UTC)
CHUNK = 5000


def person(i: int, rng: random.Random) -> tuple[str, str, str | None, str]:
    # Half the surnames carry a numbered suffix, so that most surname searches match a few hundred rows.
    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}{'' if i % 2 else i % 500}"
    phone = f"+7912{i:07d}"
    mail = f"client{i}@example.{'ru' if i % 3 else 'com'}" if i % 2 == 0 else None
    return name, phone, mail, f"{rng.choice(WORDS)} {rng.choice(WORDS)} #{i}"


async def fill_async(url: str, count: int) -> None:
    engine = create_engine(url)
    rng = random.Random(7)
    try:
        for start in range(1, count + 1, CHUNK):
            contacts, identities, rows, messages = [], [], [], []
            for i in range(start, min(count + 1, start + CHUNK)):
                name, phone, mail, text = person(i, rng)
                at = T0 + timedelta(seconds=i)
                contacts.append({"id": i, "display_name": name, "created_at": at, "updated_at": at})
                pairs = [("phone", phone)] + ([("email", mail)] if mail else [])
                identities += [{"contact_id": i, "kind": k, "value": v, "confidence": "stated", "created_at": at}
                               for k, v in pairs]
                status = "won" if i % 5 == 0 else "new"
                rows.append({"id": i, "contact_id": i, "status": status, "priority": 0, "channel": "form",
                             "source": {}, "attributes": {}, "subject": None, "notes": "", "created_at": at,
                             "updated_at": at, "last_activity_at": at, "closed_at": at if status == "won" else None,
                             "search_text": search.document(name, pairs, None, "", text)})
                messages.append({"id": i, "lead_id": i, "contact_id": i, "channel": "form", "event_id": f"b{i}",
                                 "direction": "inbound", "text": text, "attributes": {}, "created_at": at})
            async with engine.begin() as conn:
                for model, values in ((Contact, contacts), (Identity, identities), (Lead, rows),
                                      (Interaction, messages)):
                    await conn.execute(insert(model), values)
        if engine.dialect.name == "postgresql":
            async with engine.begin() as conn:
                for table in ("contacts", "leads", "identities", "interactions"):
                    await conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                               f"(SELECT max(id) FROM {table}))")
                await conn.exec_driver_sql("ANALYZE")
        else:
            async with engine.begin() as conn:
                await conn.exec_driver_sql("ANALYZE")
    finally:
        await engine.dispose()


def queries(count: int, n: int) -> list[tuple[str, str | None, str | None]]:
    """(q, q_phone, q_email) as the API reads a search box."""
    rng = random.Random(11)
    out: list[tuple[str, str | None, str | None]] = []
    for k in range(n):
        i = rng.randrange(1, count + 1)
        kind = k % 8
        if kind == 0:
            out.append((rng.choice(LAST).lower(), None, None))                     # петросян
        elif kind == 1:
            out.append((rng.choice(LAST).upper().replace("Ё", "Е"), None, None))  # ЕЛКИН
        elif kind == 2:
            out.append((search.normalize(rng.choice(FIRST + LAST)), None, None))  # muller, zoe
        elif kind == 3:
            d = f"{i:07d}"
            out.append((f"8 (912) {d[:3]}-{d[3:5]}-{d[5:]}", f"+7912{d}", None))          # national spelling
        elif kind == 4:
            out.append((f"{i:07d}"[1:], None, None))                                # a phone fragment
        elif kind == 5:
            mail = f"client{i - i % 2}@example.{'ru' if (i - i % 2) % 3 else 'com'}"
            out.append((mail.upper(), None, mail))
        elif kind == 6:
            out.append((rng.choice(WORDS), None, None))
        else:
            out.append((f"#{i}", None, None))
    return out


async def timed(n: int, step: Callable[[int], Awaitable[object]]) -> list[float]:
    samples = []
    for k in range(n):
        started = time.perf_counter()
        await step(k)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def p(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100)[int(q) - 1]


async def measure(url: str, count: int, n: int) -> dict[str, float]:
    engine = create_engine(url)
    sessions = session_factory(engine)
    boss = Viewer(user_id=1, role=Role.SUPERVISOR, team_id=None)
    asked = queries(count, n)
    ids = [random.Random(3).randrange(1, count + 1) for _ in range(n)]
    found = 0
    try:
        async with sessions() as session:
            async def by_search(k: int) -> None:
                nonlocal found
                q, q_phone, q_email = asked[k]
                found += bool(await leads.list_leads(session, boss, LeadFilter(q=q, q_phone=q_phone,
                                                                               q_email=q_email)))

            async def by_key(k: int) -> None:
                await session.scalar(select(Lead).where(Lead.id == ids[k]))

            await timed(20, by_search)       # warm the caches alike for both
            await timed(20, by_key)
            found = 0
            searched = await timed(n, by_search)
            keyed = await timed(n, by_key)
    finally:
        await engine.dispose()
    return {"p50": p(searched, 50), "p95": p(searched, 95), "base_p50": p(keyed, 50), "base_p95": p(keyed, 95),
            "hit_rate": found / n}


async def run(engine_name: str, url: str, count: int, n: int) -> None:
    await asyncio.to_thread(upgrade, url)
    started = time.perf_counter()
    await fill_async(url, count)
    filled = time.perf_counter() - started
    r = await measure(url, count, n)
    print(f"{engine_name:10} {count} leads (written in {filled:.0f} s), {n} searches, {r['hit_rate']:.0%} found: "
          f"search p50 {r['p50']:.2f} ms p95 {r['p95']:.2f} ms | lookup by key p50 {r['base_p50']:.2f} ms "
          f"p95 {r['base_p95']:.2f} ms | ratio p95 {r['p95'] / r['base_p95']:.1f}x, p50 {r['p50'] / r['base_p50']:.1f}x",
          flush=True)
    print(f"RESULT search_{engine_name} p95_ms={r['p95']:.2f} floor_ms={r['base_p95']:.2f} "
          f"ratio={r['p95'] / r['base_p95']:.1f} leads={count}", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--quick", action="store_true", help="20,000 leads, 100 searches, SQLite only")
    args = parser.parse_args()
    if args.quick:
        args.leads, args.queries, args.engines = 20_000, 100, "sqlite"
    engines = args.engines.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        if "sqlite" in engines:
            await run("sqlite", f"sqlite+aiosqlite:///{Path(tmp) / 'search.db'}", args.leads, args.queries)
        if "postgresql" in engines:
            with running_postgres() as hostport:
                host, port = hostport.split(":")
                subprocess.run(["psql", "-h", host, "-p", port, "-U", "postgres", "-qc", "CREATE DATABASE bench"],
                               check=True, capture_output=True)
                await run("postgresql", f"postgresql+asyncpg://postgres@{hostport}/bench", args.leads, args.queries)


if __name__ == "__main__":
    asyncio.run(main())
