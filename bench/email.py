"""Mail per second from SMTP DATA to a committed lead, against bare aiosmtpd keeping mail in memory.

    python bench/email.py [--messages 2000] [--connections 32] [--repeat 3] [--quick] [--mail multipart] [--serve-logging]
                          [--profile FILE [--gil]]

The sender is `smtplib` in its own process (one thread per connection, several messages per
connection). Both servers run the same aiosmtpd on this process's loop; the Switchboard one
parses each message and waits for its group commit into a fresh SQLite store before its 250.
Besides the rates, the server's CPU per message (this process, every thread, from /proc via
`time.process_time`) for both, which swings much less with the machine's load than the rates; and
afterwards every message is checked to be stored once. `--profile FILE`: py-spy's raw samples of the
Switchboard server while it takes the mail (py-spy is not in the lock: `pip install py-spy`). `--serve-logging`:
the Switchboard server logs as `switchboard serve` does (INFO, its text handler, into /dev/null), the bare one not.
"""
from __future__ import annotations

import _paths  # noqa: F401  (first: see bench/_paths.py)

import argparse  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import asyncio  # noqa: E402
import signal  # noqa: E402
import sqlite3  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402

from aiosmtpd.smtp import SMTP  # noqa: E402


SENDER = r"""
import smtplib, sys, threading
port, messages, connections = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
multipart = sys.argv[4] == "multipart"
def plain(i):
    return (f"From: Client {i} <client{i}@example.ru>\r\nTo: sales@shop.example\r\n"
            f"Subject: =?utf-8?b?0JfQsNGP0LLQutCw?= {i}\r\nMessage-ID: <bench-{i}@example.ru>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            "Здравствуйте! Перезвоните, пожалуйста, по поводу заказа.\r\n").encode()
def alternative(i):
    # As mail clients send it: encoded names, multipart/mixed around multipart/alternative, a small attachment,
    # boundaries unique to the message.
    outer, inner = f"----=_Part_{i}_1765.{i * 7919}", f"----=_Part_{i}_alt.{i * 104729}"
    return (f"From: =?utf-8?b?0JDQvdC90LAg0KHQvNC40YDQvdC+0LLQsA==?= {i} <client{i}@example.ru>\r\n"
            "To: =?utf-8?b?0J7RgtC00LXQuyDQv9GA0L7QtNCw0LY=?= <sales@shop.example>\r\n"
            f"Subject: =?utf-8?b?0JfQsNGP0LLQutCwINC90LAg0L/QvtGB0YLQsNCy0LrRgw==?= {i}\r\n"
            f"Message-ID: <bench-{i}@example.ru>\r\nDate: Mon, 07 Dec 2026 05:00:00 +0300\r\nMIME-Version: 1.0\r\n"
            f'Content-Type: multipart/mixed; boundary="{outer}"\r\n\r\n'
            f'--{outer}\r\nContent-Type: multipart/alternative; boundary="{inner}"\r\n\r\n'
            f"--{inner}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            "Здравствуйте! Прошу выставить счёт на 40 коробок, перезвоните по номеру +7 916 123-45-67.\r\n"
            "-- \r\nАнна Смирнова, ООО «Ромашка»\r\n"
            f"--{inner}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            "<div>Здравствуйте! Прошу выставить счёт на 40 коробок, перезвоните по номеру "
            "<b>+7 916 123-45-67</b>.</div><div>-- <br>Анна Смирнова, ООО «Ромашка»</div>\r\n"
            f"--{inner}--\r\n\r\n--{outer}\r\nContent-Type: application/pdf; name=\"schet.pdf\"\r\n"
            'Content-Disposition: attachment; filename="schet.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
            + "JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFIvRmlsdGVyIC9GbGF0ZURlY29kZT4+CnN0cmVh\r\n" * 20
            + f"--{outer}--\r\n").encode()
mail = alternative if multipart else plain
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


async def timed_send(port: int, messages: int, connections: int, kind: str) -> tuple[float, float, float]:
    """Messages per second, this process's CPU seconds per message (the server's: the sender is a child), and
    its event loop thread's alone (the rest is the store's writer thread)."""
    start, cpu, loop_cpu = time.perf_counter(), time.process_time(), time.thread_time()
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", SENDER, str(port), str(messages),
                                                   str(connections), kind)
    if await process.wait() != 0:
        raise RuntimeError("sender failed")
    return (messages / (time.perf_counter() - start), (time.process_time() - cpu) / messages,
            (time.thread_time() - loop_cpu) / messages)


async def bare(messages: int, connections: int, kind: str) -> tuple[float, float, float]:
    handler = Memory()
    server = await asyncio.get_running_loop().create_server(lambda: SMTP(handler), "127.0.0.1", 0)
    try:
        return await timed_send(server.sockets[0].getsockname()[1], messages, connections, kind)
    finally:
        server.close()
        await server.wait_closed()


async def switchboard(workdir: Path, messages: int, connections: int, kind: str,
                      profile: Path | None = None, gil: bool = False) -> tuple[float, float, float, int, float]:
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
            spy = start_profile(profile, gil)
            try:
                rate, cpu, loop_cpu = await timed_send(intake.port, messages, connections, kind)
            finally:
                stop_profile(spy)
                await intake.stop()
            batches = ingestor.batches
            writer_cpu = (ingestor.writer_cpu_seconds or 0.0) / messages
    finally:
        await engine.dispose()
    problems = check_stored(workdir / "email.db", messages)
    if problems:
        raise RuntimeError(f"mail lost or stored twice: {problems}")
    return rate, cpu, loop_cpu, batches, writer_cpu


def check_stored(db: Path, messages: int) -> str:
    """Every message answered 250 is one stored e-mail interaction, none twice ("" when so)."""
    with sqlite3.connect(db) as conn:
        stored, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM interactions WHERE channel = 'email'").fetchone()
        expected = {f"<bench-{i}@example.ru>" for i in range(messages)}
        found = {row[0] for row in conn.execute("SELECT event_id FROM interactions WHERE channel = 'email'")}
    problems = []
    if stored != distinct:
        problems.append(f"{stored - distinct} stored twice")
    if expected - found:
        problems.append(f"{len(expected - found)} answered 250 but not stored")
    return "; ".join(problems)


@contextmanager
def serve_logging(on: bool) -> Iterator[None]:
    """The Switchboard server logging as `switchboard serve` does (INFO, the text handler; to /dev/null here),
    undone afterwards so that the bare server of the next run logs as before (not at all)."""
    if not on:
        yield
        return
    from gateway.logs import configure
    from gateway.settings import LogSettings

    with open(os.devnull, "w") as sink:
        stderr, sys.stderr = sys.stderr, sink     # the handler writes to the stderr it finds
        try:
            configure(LogSettings())
        finally:
            sys.stderr = stderr
        try:
            yield
        finally:
            root = logging.getLogger()
            for handler in [h for h in root.handlers if h.get_name() == "switchboard"]:
                root.removeHandler(handler)
            root.setLevel(logging.WARNING)
            logging.getLogger("mail.log").setLevel(logging.NOTSET)


def start_profile(path: Path | None, gil: bool = False) -> subprocess.Popen[bytes] | None:
    if path is None:
        return None
    spy = _paths.sibling("profiles").py_spy()
    if spy is None:
        raise SystemExit("--profile needs py-spy (`pip install py-spy`)")
    return subprocess.Popen([spy, "record", "--pid", str(os.getpid()), "--format", "raw", "--output", str(path),
                             "--rate", "200", "--threads", *(["--gil"] if gil else [])],
                            stdout=subprocess.DEVNULL)


def stop_profile(spy: subprocess.Popen[bytes] | None) -> None:
    if spy is not None:
        spy.send_signal(signal.SIGINT)      # py-spy writes its file on SIGINT
        spy.wait(30)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1,000 messages, one run")
    parser.add_argument("--mail", choices=("plain", "multipart"), default="plain",
                        help="plain: a short text/plain mail (the figures so far); multipart: multipart/mixed around "
                             "multipart/alternative, Cyrillic, encoded names, a 1.7 kB attachment")
    parser.add_argument("--profile", type=Path, help="py-spy's raw samples of the Switchboard server, written here")
    parser.add_argument("--gil", action="store_true", help="with --profile: sample only the thread holding the GIL")
    parser.add_argument("--serve-logging", action="store_true",
                        help="the Switchboard server logs as `switchboard serve` does (INFO; the bare one does not log)")
    args = parser.parse_args()
    if args.quick:
        args.messages, args.repeat = 1000, 1
    runs = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as tmp:
            memory, memory_cpu, _ = await bare(args.messages, args.connections, args.mail)
            with serve_logging(args.serve_logging):
                stored, stored_cpu, loop_cpu, commits, writer_cpu = await switchboard(
                    Path(tmp), args.messages, args.connections, args.mail, args.profile, args.gil)
            runs.append((memory, stored, commits, memory_cpu, stored_cpu, loop_cpu, writer_cpu))
    memory, stored, commits, memory_cpu, stored_cpu, loop_cpu, writer_cpu = (statistics.median(r[i] for r in runs)
                                                                             for i in range(7))
    shape = ("" if args.mail == "plain" else " (multipart mail)") + (", logging as serve" if args.serve_logging else "")
    print(f"{args.messages} messages{shape} over {args.connections} SMTP connections, median of {args.repeat} runs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"SMTP DATA -> committed lead (SQLite, each commit fsynced before its answer): {stored:7.0f} messages/s in ~{commits:.0f} commits, "
          f"{1000 * stored_cpu:.2f} ms server CPU a message (event loop thread {1000 * loop_cpu:.2f}, "
          f"writer thread {1000 * writer_cpu:.2f}); each stored once (checked)")
    print(f"bare aiosmtpd keeping the messages in memory:          {memory:7.0f} messages/s, "
          f"{1000 * memory_cpu:.2f} ms server CPU a message")
    print(f"ratio: {stored / memory:.3f}   (target >= 0.5); CPU a message: {stored_cpu / memory_cpu:.2f}x the bare one")
    print(f"RESULT smtp{'' if args.mail == 'plain' else '_multipart'} messages_per_s={stored:.0f} floor={memory:.0f} ratio={stored / memory:.3f} "
          f"cpu_ms={1000 * stored_cpu:.3f} loop_cpu_ms={1000 * loop_cpu:.3f} writer_cpu_ms={1000 * writer_cpu:.3f} "
          f"floor_cpu_ms={1000 * memory_cpu:.3f} commits={commits:.0f}")
    if args.profile:
        _paths.sibling("profiles").profile_summary(str(args.profile))


if __name__ == "__main__":
    asyncio.run(main())
