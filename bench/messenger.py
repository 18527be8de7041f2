"""Telegram updates per second from a (fake, loopback) Bot API to committed interactions,
against the same updates written straight into the store, in the same run.

    python bench/messenger.py [--updates 2000] [--chats 200] [--repeat 3] [--quick]

The adapter is the production one (python-telegram-bot's Bot, long polling, offset moved only
after each update is committed, chats in parallel and each chat in order). The baseline parses the
same updates and ingests them all at once, so it gets full group commits and no HTTP at all.

What bounds the ratio: getUpdates serves at most 100 updates, and the next batch can only be
asked for by confirming this one, i.e. after its commit. So one batch is in flight per bot: per
100 updates one long-poll round trip, PTB's decoding (`Update.de_json`, ~0.2 ms an update) and
the commit latency, where the baseline shares one commit among thousands.
"""
from __future__ import annotations

import _paths  # noqa: F401  (first: see bench/_paths.py)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from telegram import Update  # noqa: E402

from channels.telegram.adapter import TelegramChannel, TelegramConfig  # noqa: E402
from channels.telegram.parse import parse_update  # noqa: E402
from channels.types import Accepted, InboundContact  # noqa: E402
from crm_store.ingest import Ingestor  # noqa: E402
from crm_store.migrate import upgrade  # noqa: E402
from crm_store.session import create_engine  # noqa: E402
from gateway.mapping import to_ingest_request  # noqa: E402
from simulators.telegram_api import TOKEN, message, running_bot_api  # noqa: E402


async def store(workdir: Path, name: str) -> tuple[Ingestor, object]:
    url = f"sqlite+aiosqlite:///{workdir / name}"
    await asyncio.to_thread(upgrade, url)     # alembic runs its own loop: keep it off ours
    engine = create_engine(url)
    return Ingestor(engine), engine


async def through_telegram(workdir: Path, updates: int, chats: int) -> float:
    ingestor, engine = await store(workdir, "telegram.db")
    done = asyncio.Event()
    committed = 0
    try:
        async with running_bot_api() as fake, ingestor:
            async def emit(contact: InboundContact) -> Accepted:
                nonlocal committed
                result = await ingestor.ingest(to_ingest_request(contact))
                committed += 1
                if committed == updates:
                    done.set()
                return Accepted(result.lead_id, result.contact_id, result.interaction_id, result.duplicate)

            config = TelegramConfig(token=TOKEN, base_url=f"http://127.0.0.1:{fake.port}/bot",
                                    base_file_url=f"http://127.0.0.1:{fake.port}/file/bot", poll_timeout=1)
            channel = TelegramChannel(config, emit)
            for i in range(updates):
                fake.updates.append({"update_id": i + 1, "message": message(1000 + i % chats, f"msg {i}", i + 1)})
            start = time.perf_counter()
            await channel.start()
            await asyncio.wait_for(done.wait(), 600)
            elapsed = time.perf_counter() - start
            await channel.stop()
            return updates / elapsed
    finally:
        await engine.dispose()  # type: ignore[attr-defined]


async def straight(workdir: Path, updates: int, chats: int) -> float:
    ingestor, engine = await store(workdir, "straight.db")
    parsed = [parse_update(Update.de_json({"update_id": i + 1, "message": message(1000 + i % chats, f"msg {i}", i + 1)},
                                          None), region="RU") for i in range(updates)]
    try:
        async with ingestor:
            start = time.perf_counter()
            await asyncio.gather(*(ingestor.ingest(to_ingest_request(p.contact)) for p in parsed if p))
            return updates / (time.perf_counter() - start)
    finally:
        await engine.dispose()  # type: ignore[attr-defined]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1,000 updates, one run")
    args = parser.parse_args()
    if args.quick:
        args.updates, args.repeat = 1000, 1
    runs = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as tmp:
            runs.append((await through_telegram(Path(tmp), args.updates, args.chats),
                         await straight(Path(tmp), args.updates, args.chats)))
    telegram, direct = (statistics.median(r[i] for r in runs) for i in range(2))
    print(f"{args.updates} updates from {args.chats} chats, median of {args.repeat} runs")
    print(f"fake Bot API -> python-telegram-bot -> committed interaction: {telegram:7.0f} updates/s")
    print(f"the same updates ingested straight into the store:           {direct:7.0f} updates/s")
    print(f"ratio: {telegram / direct:.3f}")
    print(f"RESULT messenger updates_per_s={telegram:.0f} floor={direct:.0f} ratio={telegram / direct:.3f}")


if __name__ == "__main__":
    asyncio.run(main())
