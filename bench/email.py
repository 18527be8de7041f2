"""Mail per second from SMTP DATA to a committed lead, against bare aiosmtpd keeping mail in memory.

    python bench/email.py [--messages 2000] [--connections 32] [--repeat 3] [--quick]

The sender is `smtplib` in its own process (one thread per connection, several messages per
connection). Both servers run the same aiosmtpd on this process's loop; the Switchboard one
parses each message and waits for its group commit into a fresh SQLite store before its 250.
"""
from __future__ import annotations

import _paths  # noqa: F401  (first: see bench/_paths.py)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import sys  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from pathlib import Path  # noqa: E402

from aiosmtpd.smtp import SMTP  # noqa: E402


SENDER = r"""
import smtplib, sys, threading
port, messages, connections = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def mail(i):
    return (f"From: Client {i} <client{i}@example.ru>\r\nTo: sales@shop.example\r\n"
            f"Subject: =?utf-8?b?0JfQsNGP0LLQutCw?= {i}\r\nMessage-ID: <bench-{i}@example.ru>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            "Здравствуйте! Перезвоните, пожалуйста, по поводу заказа.\r\n").encode()
def run(k):
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        s.ehlo()
        for i in range(k, messages, connections):
            s.mail(f"client{i}@example.ru"); s.rcpt("sales@shop.example")
            code, _ = s.data(mail(i))
            assert code == 250, code
threads = [threading.Thread(target=run, args=(k,)) for k in range(connections)]
[t.start() for t in threads]; [t.join() for t in threads]
"""


class Memory:
    def __init__(self) -> None:
        self.kept: list[bytes] = []

    async def handle_DATA(self, server: SMTP, session: object, envelope: object) -> str:
        self.kept.append(envelope.original_content)  # type: ignore[attr-defined]
        return "250 OK"


async def timed_send(port: int, messages: int, connections: int) -> float:
    start = time.perf_counter()
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", SENDER, str(port), str(messages),
                                                   str(connections))
    if await process.wait() != 0:
        raise RuntimeError("sender failed")
    return messages / (time.perf_counter() - start)


async def bare(messages: int, connections: int) -> float:
    handler = Memory()
    server = await asyncio.get_running_loop().create_server(lambda: SMTP(handler), "127.0.0.1", 0)
    try:
        return await timed_send(server.sockets[0].getsockname()[1], messages, connections)
    finally:
        server.close()
        await server.wait_closed()


async def switchboard(workdir: Path, messages: int, connections: int) -> tuple[float, int]:
    from channels.email.config import SmtpConfig
    from channels.email.smtp_handler import SmtpIntake
    from channels.types import Accepted, InboundContact
    from crm_store.ingest import Ingestor
    from crm_store.migrate import upgrade_async
    from crm_store.session import create_engine
    from gateway.mapping import to_ingest_request

    url = f"sqlite+aiosqlite:///{workdir / 'email.db'}"
    await upgrade_async(url)
    engine = create_engine(url)
    try:
        async with Ingestor(engine) as ingestor:
            async def emit(contact: InboundContact) -> Accepted:
                result = await ingestor.ingest(to_ingest_request(contact))
                return Accepted(result.lead_id, result.contact_id, result.interaction_id, result.duplicate)

            intake = SmtpIntake(SmtpConfig(listen="127.0.0.1:0", domains=("shop.example",)), emit)
            await intake.start()
            try:
                rate = await timed_send(intake.port, messages, connections)
            finally:
                await intake.stop()
            return rate, ingestor.batches
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1,000 messages, one run")
    args = parser.parse_args()
    if args.quick:
        args.messages, args.repeat = 1000, 1
    runs = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as tmp:
            memory = await bare(args.messages, args.connections)
            stored, commits = await switchboard(Path(tmp), args.messages, args.connections)
            runs.append((memory, stored, commits))
    memory, stored, commits = (statistics.median(r[i] for r in runs) for i in range(3))
    print(f"{args.messages} messages over {args.connections} SMTP connections, median of {args.repeat} runs")
    print(f"SMTP DATA -> committed lead (SQLite synchronous=FULL): {stored:7.0f} messages/s in ~{commits:.0f} commits")
    print(f"bare aiosmtpd keeping the messages in memory:          {memory:7.0f} messages/s")
    print(f"ratio: {stored / memory:.3f}   (target >= 0.5)")
    print(f"RESULT smtp messages_per_s={stored:.0f} floor={memory:.0f} ratio={stored / memory:.3f}")


if __name__ == "__main__":
    asyncio.run(main())
