"""Importing 100,000 clients from a CSV file, SQLite and PostgreSQL, against a raw bulk insert of the same rows.

    python bench/import.py [--rows 100000] [--engines sqlite,postgresql] [--leads] [--thread] [--quick]

The file: N rows of realistic Russian client data (full names «Фамилия Имя Отчество», a mobile phone
written the way people type it, "8 (916) 123-45-67", sometimes two in one cell, an e-mail, one of
8,000 companies, tags), UTF-8 with BOM and `;`, as a spreadsheet exports it; 2 % of the rows repeat an
earlier client (they join it), 1 % have an unreadable phone (refused). Measured: the whole import as the
service runs it (gateway.imports.runner.ImportRunner through the intake's writer, batches of 500: the
file read, every phone parsed with phonenumbers, identity resolution against the store, the writes and
the job's cursor), rows per second. A file over `[imports] mapping_process_rows` is read and mapped in a
child process while the batch before is written (`--thread`: in a thread, as a small file is); the CPU
per row counts the child's. The floor, in the same run on a fresh database: the same contacts,
identities, companies and links, already normalised, written with one executemany per table per 500 rows
(what the import writes, without reading, mapping or resolving anything). Target: the import's rate is at
least 0.3 of the floor's.
"""
from __future__ import annotations

import _paths  # noqa: F401  (first: see bench/_paths.py)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

from sqlalchemy import insert  # noqa: E402

from crm_store.imports import jobs  # noqa: E402
from crm_store.ingest import Ingestor  # noqa: E402
from crm_store.migrate import upgrade  # noqa: E402
from crm_store.models import Company, Contact, ContactCompany, Identity  # noqa: E402
from crm_store.session import create_engine, session_factory  # noqa: E402
from gateway.imports.columns import RowRules, guess, to_row  # noqa: E402
from gateway.imports.files import open_table  # noqa: E402
from gateway.imports.runner import ImportRunner, RunChoices  # noqa: E402
from gateway.settings import ImportSettings  # noqa: E402
from support.postgres_server import running_postgres  # noqa: E402

T0 = datetime(2026, 12, 1, tzinfo=UTC)
BATCH = 500
LAST = ("Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков", "Фёдоров",
        "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов", "Козлов", "Степанов", "Николаев")
FIRST_M = ("Александр", "Дмитрий", "Максим", "Сергей", "Андрей", "Алексей", "Артём", "Илья", "Кирилл", "Михаил")
FIRST_F = ("Анна", "Мария", "Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Екатерина", "Светлана", "Юлия")
MIDDLE = ("Александров", "Дмитриев", "Сергеев", "Андреев", "Викторов", "Иванов", "Петров", "Николаев")
LATIN = str.maketrans({"а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z",
                       "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
                       "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sch",
                       "ы": "y", "э": "e", "ю": "yu", "я": "ya", "ь": "", "ъ": ""})
FORMS = ("ООО", "АО", "ИП", "ЗАО")
WORDS = ("Ромашка", "Вектор", "Север", "Альфа", "Гранит", "Техно", "Строй", "Ресурс", "Логистик", "Меридиан")
TAGS = ("vip", "опт", "розница", "партнёр", "выставка")


def make_file(path: Path, rows: int) -> None:
    rng = random.Random(23)
    lines = ["ФИО;Телефон;Почта;Компания;Должность;Теги"]
    for n in range(rows):
        if n > 100 and rng.random() < 0.02:
            lines.append(lines[rng.randrange(1, n)])        # a client listed twice
            continue
        female = rng.random() < 0.5
        last = rng.choice(LAST) + ("а" if female else "")
        first = rng.choice(FIRST_F if female else FIRST_M)
        middle = rng.choice(MIDDLE) + ("на" if female else "ич")
        number = f"9{rng.randrange(10, 99)}{n:07d}"
        phone = f"8 ({number[:3]}) {number[3:6]}-{number[6:8]}-{number[8:]}"
        if rng.random() < 0.1:
            phone += f", +7 {number[:3]} {(int(number[3:]) + 5_000_000) % 10_000_000:07d}"
        if rng.random() < 0.01:
            phone = "12-34"
        email = f"{first.lower().translate(LATIN)}.{last.lower().translate(LATIN)}{n}@example.ru"
        company = f"{rng.choice(FORMS)} «{rng.choice(WORDS)}-{rng.randrange(200)}»"
        tags = ", ".join(rng.sample(TAGS, rng.randrange(3)))
        lines.append(f"{last} {first} {middle};{phone};{email};{company};менеджер;{tags}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")


async def import_rate(url: str, path: Path, rows: int, leads: bool, thread: bool = False) -> tuple[float, float, dict[str, int]]:
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    settings = ImportSettings(batch_rows=BATCH, max_rows=rows + 1, **({"mapping_process_rows": rows} if thread else {}))
    header = open_table(path).header
    choices = RunChoices(guess(header), leads=leads)
    try:
        async with Ingestor(engine) as writer:
            async with sessions() as s, s.begin():
                job = await jobs.create_job(s, None, path.name, str(path), None, rows, T0)
                await jobs.start(s, job.id, {**choices.as_options(), "cli": True}, rows, T0)
            runner = ImportRunner(sessions, writer, settings, "RU", lambda: T0)
            started, cpu = time.perf_counter(), _cpu()
            await runner.run(job.id)
            seconds, cpu = time.perf_counter() - started, _cpu() - cpu
            async with sessions() as s:
                done = await jobs.get_job(s, job.id)
        assert done.state == "done" and done.cursor == rows, (done.state, done.cursor, done.error)
        return rows / seconds, rows / cpu, dict(done.counts)
    finally:
        await engine.dispose()


def _cpu() -> float:
    """CPU seconds of this process and of its ended children: a big file is mapped in a child process."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def prepared(path: Path) -> list[dict]:
    """Every row mapped and normalised before the clock starts: the floor writes, it does not read."""
    table = open_table(path)
    mapping = guess(table.header)
    rules = RowRules("RU")
    out, seen = [], set()
    for number, cells in enumerate(table.rows(10**7), start=1):
        row = to_row(number, cells, mapping, rules)
        if hasattr(row, "identities") and not (set(row.identities) & seen):
            seen.update(row.identities)
            out.append({"name": row.name, "ids": row.identities, "company": row.company, "tags": list(row.tags)})
    return out


async def raw_rate(url: str, rows: list[dict], total: int) -> tuple[float, float]:
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    companies: dict[str, int] = {}
    contact_id = identity_id = 0
    try:
        started, cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(rows), BATCH):
            chunk = rows[start:start + BATCH]
            async with engine.begin() as conn:
                fresh = [r["company"] for r in chunk if r["company"] not in companies]
                for name in dict.fromkeys(fresh):
                    companies[name] = len(companies) + 1
                if fresh:
                    await conn.execute(insert(Company), [
                        {"id": companies[n], "name": n, "addresses": [], "phones": [], "emails": [], "custom": {},
                         "search_text": n.lower(), "created_at": T0, "updated_at": T0} for n in dict.fromkeys(fresh)])
                contacts, identities, links = [], [], []
                for r in chunk:
                    contact_id += 1
                    contacts.append({"id": contact_id, "display_name": r["name"], "tags": r["tags"], "custom": {},
                                     "created_at": T0, "updated_at": T0})
                    for kind, value in r["ids"]:
                        identity_id += 1
                        identities.append({"id": identity_id, "contact_id": contact_id, "kind": kind, "value": value,
                                           "confidence": "stated", "created_at": T0})
                    links.append({"contact_id": contact_id, "company_id": companies[r["company"]],
                                  "position": "менеджер", "created_at": T0})
                await conn.execute(Contact.__table__.insert(), contacts)
                await conn.execute(Identity.__table__.insert(), identities)
                await conn.execute(ContactCompany.__table__.insert(), links)
        # The same file's rows per second: the floor did the writes of all of them.
        return total / (time.perf_counter() - started), total / (time.process_time() - cpu)
    finally:
        await engine.dispose()


async def bench(engine: str, urls: tuple[str, str], path: Path, rows: int, leads: bool, thread: bool) -> None:
    rate, rate_cpu, counts = await import_rate(urls[0], path, rows, leads, thread)
    floor, floor_cpu = await raw_rate(urls[1], prepared(path), rows)
    # On a shared machine wall time follows the neighbours' load; this process's CPU seconds much less so.
    print(f"{engine}: import {rate:,.0f} rows/s ({rate_cpu:,.0f} per CPU second, the mapping child's included) {counts}; "
          f"raw executemany {floor:,.0f} rows/s ({floor_cpu:,.0f} per CPU second); ratio {rate / floor:.2f} "
          f"(CPU: {rate_cpu / floor_cpu:.2f}); target >= 0.3")
    print(f"RESULT import-{engine}{'-thread' if thread else ''} rows={rows} rows_per_s={rate:.0f} floor_rows_per_s={floor:.0f} "
          f"ratio={rate / floor:.2f} cpu_ratio={rate_cpu / floor_cpu:.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--leads", action="store_true", help="every row is also a lead")
    parser.add_argument("--thread", action="store_true", help="map in a thread, as a small file is")
    parser.add_argument("--quick", action="store_true", help="10,000 rows")
    args = parser.parse_args()
    rows = 10_000 if args.quick else args.rows
    engines = args.engines.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "clients.csv"
        make_file(path, rows)
        if "sqlite" in engines:
            await bench("sqlite", (f"sqlite+aiosqlite:///{tmp}/import.db", f"sqlite+aiosqlite:///{tmp}/raw.db"),
                        path, rows, args.leads, args.thread)
        if "postgresql" in engines:
            with running_postgres() as hostport:
                host, port = hostport.split(":")
                for name in ("import", "raw"):
                    subprocess.run(["psql", "-h", host, "-p", port, "-U", "postgres", "-qc", f"CREATE DATABASE {name}"],
                                   check=True, capture_output=True)
                await bench("postgresql", (f"postgresql+asyncpg://postgres@{hostport}/import",
                                           f"postgresql+asyncpg://postgres@{hostport}/raw"), path, rows, args.leads, args.thread)


if __name__ == "__main__":
    asyncio.run(main())
