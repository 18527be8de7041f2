"""Screen-pop latency: an `AgentCalled` frame written on the AMI socket -> `call.ringing` at the operator's websocket.

    python bench/screen_pop.py [--seconds 10] [--rates 10,100] [--known 100] [--sockets 5000] [--profile] [--quick]

--quick: 2 s per rate, a rate's calls (8 s each, as recorded) not waited out before the next, for bench/all.py
(under a minute). --sockets N: then N more idle authenticated operator
sockets are connected, and the server's memory and the pop latency at the first rate are measured again with
them (against the first run, with 20). --profile: py-spy samples the server (`pip install py-spy`) and a summary
of where its time went is printed (SCREEN_POP_PROFILE=file keeps the raw samples).

1. end to end: `switchboard serve` in its own process (fresh SQLite, [ami] pointed at the simulated PBX in
   this process), which replays the recorded Asterisk 22 queue call (simulators/pbx/recordings/queue_answered.ami)
   with its real timing: QueueCallerJoin and AgentCalled within a millisecond, as recorded, then the
   recorded ring (2 s) before the answer, and the hangup when recorded (8 s after the start); every other call is a first-time caller (a new number),
   the others repeat callers (numbers that called during the warm-up). The clock starts when the AgentCalled
   frame is written and stops when the operator's websocket client here receives the call's `call.ringing`;
   a second clock stops when the card is there (in the pop, or in the `call.card` that follows it);
2. floor: a bare relay in its own process that reads AgentCalled frames from a TCP socket and writes
   each one to a websocket client here, at the same rates.
Both clocks are this process's `time.perf_counter`. Prints p50 / p99 per rate and kind of caller, the ratio to
the floor and the load average; no asserts (targets: p99 under 10 ms at 10 calls/s and under 50 ms at 100
calls/s, p50 within 10x the floor). Also prints the server's CPU time per call: pops queue up once that times
the rate nears one core, so on a slower or busier machine the same code misses the target, and this says
which case a run is. It counts from a rate's first call until its last call ended, except with --quick: there
the window closes 2 s after the last call started, before any call was answered or hung up, so it holds the
starts and pops only (about 60% of a call's CPU); --quick then prints the last rate's whole-life figure too.
"""
from __future__ import annotations

import _paths  # noqa: F401  (first: see bench/_paths.py)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import aiohttp  # noqa: E402

from simulators.pbx import recordings  # noqa: E402
from simulators.pbx.server import AMI_DIR, SimulatedPbx  # noqa: E402
from support.postgres_server import free_port  # noqa: E402
from support.processes import wait_ready  # noqa: E402

calls = _paths.sibling("pop_calls")
stats = _paths.sibling("server_stats")
profiles = _paths.sibling("profiles")

RELAY = """
import asyncio, sys
from aiohttp import web
clients = set()
async def ws(request):
    sock = web.WebSocketResponse()
    await sock.prepare(request)
    clients.add(sock)
    async for _ in sock:
        pass
    clients.discard(sock)
    return sock
async def feed(reader, writer):
    buffer = b""
    while data := await reader.read(65536):
        buffer += data
        *frames, buffer = buffer.split(b"\\r\\n\\r\\n")
        for frame in frames:
            for sock in list(clients):
                await sock.send_str(frame.decode())
async def main():
    app = web.Application()
    app.router.add_get("/ws", ws)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", int(sys.argv[1])).start()
    server = await asyncio.start_server(feed, "127.0.0.1", int(sys.argv[2]))
    print("ready", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""

CONFIG = """
log_level = "WARNING"
[ami]
host = "127.0.0.1"
port = {port}
username = "bench"
secret = "bench"
"""
EXTENSION = "101"


async def operator(base: str, name: str) -> str:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/api/v1/auth/login", json={"username": name, "password": "bench-pass"}) as r:
            return str((await r.json())["token"])


async def server_pops(http: aiohttp.ClientSession, base: str) -> dict[str, float]:
    """The server's own pop histogram (/metrics: AgentCalled read -> call.ringing written to the sockets)."""
    async with http.get(f"{base}/metrics") as response:
        text = await response.text()
    found = {}
    for line in text.splitlines():
        if line.startswith("switchboard_screen_pop_seconds_"):
            name, value = line.rsplit(" ", 1)
            found[name.removeprefix("switchboard_screen_pop_seconds_")] = float(value)
    return found


def server_side(before: dict[str, float], after: dict[str, float]) -> str:
    """The server's view of one phase's pops: their mean and the bucket their median falls in."""
    count = after.get("count", 0) - before.get("count", 0)
    if not count:
        return "the server counted no pops"
    mean = (after["sum"] - before.get("sum", 0)) / count * 1000
    buckets = sorted((float(k.split('"')[1]), after[k] - before.get(k, 0)) for k in after
                     if k.startswith("bucket") and "+Inf" not in k)
    median = next((le for le, n in buckets if n >= count / 2), float("inf")) * 1000
    return f"the server's own pop (AMI read -> written): mean {mean:.2f} ms, p50 <= {median:g} ms ({count:.0f})"


Results = dict[tuple[float, str, str], list[float]]     # (rate, known|first, pop|card) -> milliseconds


async def idle_operators(database_url: str, count: int) -> list[str]:
    """`count` more operators, each with a session token, written straight to the database before the server
    starts (their password hashed once: argon2 5,000 times would take minutes), as a big team would be."""
    from crm_store.models import User
    from crm_store.session import create_engine
    from crm_store.users import hash_password, open_session
    from sqlalchemy.ext.asyncio import async_sessionmaker

    engine = create_engine(database_url)
    password, now, tokens = await hash_password("bench-pass"), datetime.now(UTC), []
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            users = [User(username=f"idle{n}", display_name=f"Idle {n}", role="operator", password_hash=password,
                          skills={}, capacity={"voice": 1, "chat": 4}, locale="en", active=True, created_at=now)
                     for n in range(count)]
            session.add_all(users)
            await session.flush()
            tokens = [await open_session(session, user, now, timedelta(days=1)) for user in users]
            await session.commit()
    finally:
        await engine.dispose()
    return tokens


async def idle_sockets(http: aiohttp.ClientSession, urls: list[str]) -> list[Any]:
    """Authenticated operator sockets that only stay connected (opened 100 at a time), one per url."""
    sockets: list[Any] = []
    while len(sockets) < len(urls):
        batch = urls[len(sockets):len(sockets) + 100]
        sockets += await asyncio.gather(*(http.ws_connect(url) for url in batch))
    return sockets


Phase = tuple[str, float]       # (label, calls per second)


async def end_to_end(workdir: Path, rates: list[float], seconds: float, known: int, cpu: dict[str, float],
                     sockets: int, memory: dict[str, float], profile: str | None,
                     quick: bool = False) -> tuple[Results, list[Phase]]:
    pbx = SimulatedPbx(username="bench", secret="bench")
    await pbx.start()
    clock = calls.Clock()
    http_port = free_port()
    (workdir / "switchboard.toml").write_text(CONFIG.format(port=pbx.port))
    env = {**os.environ, "SWITCHBOARD_CONFIG": str(workdir / "switchboard.toml"),
           "SWITCHBOARD_DATABASE__URL": f"sqlite+aiosqlite:///{workdir}/bench.db"}
    cli = [sys.executable, "-m", "gateway"]
    subprocess.run([*cli, "migrate"], env=env, cwd=workdir, check=True, capture_output=True)
    subprocess.run([*cli, "user", "add", "op", "--role", "operator", "--password-stdin", "--extension", EXTENSION],
                   input=b"bench-pass\n", env=env, cwd=workdir, check=True, capture_output=True)
    tokens = await idle_operators(env["SWITCHBOARD_DATABASE__URL"], 19 + sockets)
    log = (workdir / "server.log").open("wb")        # a pipe nobody reads could fill and stall the server
    # Without py-spy (not in the lock), the server runs under cProfile: its loop thread, written at exit.
    profiled = ["-m", "cProfile", "-o", profile] if profile and not profiles.py_spy() else []
    server = subprocess.Popen([sys.executable, *profiled, *cli[1:], "serve", "--port", str(http_port)], env=env,
                              cwd=workdir, stdout=subprocess.DEVNULL, stderr=log)
    results: Results = {}
    phases: list[Phase] = [(f"{rate:g}/s", rate) for rate in rates]
    spy: subprocess.Popen[bytes] | None = None
    repeat = [f"+7495{n:07d}" for n in range(known)]
    try:
        await wait_ready(http_port, server)
        if profile and profiles.py_spy():    # py-spy's raw samples: where the server spends its time
            spy = subprocess.Popen([profiles.py_spy(), "record", "--pid", str(server.pid),
                                    "--nonblocking", "--threads", "--format", "raw", "-o", profile],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        await pbx.wait_logged_in()
        base = f"http://127.0.0.1:{http_port}"
        token = await operator(base, "op")
        # No connection limit: every socket holds its connection (aiohttp's default stops at 100).
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            sock = await http.ws_connect(f"ws://127.0.0.1:{http_port}/ws?token={token}")
            urls = [f"ws://127.0.0.1:{http_port}/ws?token={t}" for t in tokens]
            idle = await idle_sockets(http, urls[:19])        # 20 screens connected, as a small team has

            async def read() -> None:
                async for message in sock:
                    data = json.loads(message.data)
                    clock.arrived(data["type"], data["data"])

            reader = asyncio.create_task(read())
            # Warm-up outside the clock: statements compiled, threads started, and the repeat callers call once.
            pending: list[asyncio.Task[str]] | None = [] if quick else None
            await calls.replay_calls(pbx, 50, known / 50, lambda n: repeat[n % known], {}, pending)
            await asyncio.sleep(2.0 if quick else 1.0)
            memory["20 sockets"] = stats.rss_mb(server.pid)
            fresh = itertools.count(1)
            if sockets:
                phases.append((f"{rates[0]:g}/s, {sockets + 20} sockets", rates[0]))
            for label, rate in phases:
                if label.endswith("sockets"):
                    idle += await idle_sockets(http, urls[19:])
                    await asyncio.sleep(2.0)
                    memory[f"{sockets + 20} sockets"] = stats.rss_mb(server.pid)
                linked: dict[str, str] = {}
                used, mine, began = stats.cpu_seconds(server.pid), stats.cpu_seconds(os.getpid()), time.perf_counter()
                threads = stats.thread_cpu(server.pid)
                inside = await server_pops(http, base)
                await calls.replay_calls(pbx, rate, seconds, lambda n: repeat[n % known] if n % 2 else
                                         f"+7812{next(fresh):07d}", linked, pending)
                await asyncio.sleep(2.0 if quick else 1.0)
                cpu[label] = (stats.cpu_seconds(server.pid) - used) / max(1, len(linked)) * 1000
                print(f"  {label}: this process (PBX + screens) used {stats.cpu_seconds(os.getpid()) - mine:.1f} s "
                      f"of CPU "
                      f"in {time.perf_counter() - began:.1f} s; {server_side(inside, await server_pops(http, base))}; "
                      f"{stats.thread_split(server.pid, threads, len(linked))}", flush=True)
                arrived = 0
                for call_id, number in linked.items():
                    kind = "known" if number in repeat else "first"
                    sent = clock.sent.get(call_id)
                    arrived += call_id in clock.popped
                    for what, seen in (("pop", clock.popped), ("card", clock.carded)):
                        if sent is not None and call_id in seen:
                            results.setdefault((label, kind, what), []).append((seen[call_id] - sent) * 1000)
                if arrived < len(linked):
                    print(f"  !! {len(linked) - arrived} of {len(linked)} pops never arrived at {label}")
            await asyncio.gather(*(pending or []))
            if quick:
                # The window above closed before its calls were answered and hung up (8 s each, 2 s of calls):
                # their answers' and records' writes were not in its CPU, which read ~40% low. The last rate's
                # figure again, from its start to its last call's end (with the earlier rate's few call ends).
                label = phases[-1][0]
                cpu[f"{label} whole"] = (stats.cpu_seconds(server.pid) - used) / max(1, len(linked)) * 1000
            reader.cancel()
            await asyncio.gather(*(s.close() for s in [sock, *idle]), return_exceptions=True)
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)        # py-spy writes its file on SIGINT, not on SIGTERM
            spy.wait(30)
        server.terminate()
        try:
            server.wait(60)      # thousands of sockets to close (and a profile to write) take a while
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        await pbx.close()
        log.close()
        if os.environ.get("SCREEN_POP_LOG"):          # keep the server's log for a look afterwards
            Path(os.environ["SCREEN_POP_LOG"]).write_bytes((workdir / "server.log").read_bytes())
        errors = [line for line in (workdir / "server.log").read_text().splitlines() if "Traceback" in line]
        if errors:
            print(f"  !! the server logged {len(errors)} tracebacks, the last lines:")
            print("\n".join((workdir / "server.log").read_text().splitlines()[-25:]))
    return results, phases


async def floor(workdir: Path, rates: list[float], seconds: float) -> dict[float, list[float]]:
    http_port, tcp_port = free_port(), free_port()
    relay = subprocess.Popen([sys.executable, "-c", RELAY, str(http_port), str(tcp_port)], stdout=subprocess.PIPE,
                             cwd=workdir)
    assert relay.stdout is not None
    await asyncio.to_thread(relay.stdout.readline)
    results: dict[float, list[float]] = {}
    try:
        arrived: dict[str, float] = {}
        async with aiohttp.ClientSession() as http:
            sock = await http.ws_connect(f"ws://127.0.0.1:{http_port}/ws")

            async def read() -> None:
                async for message in sock:
                    if message.data.startswith("Event: AgentCalled"):
                        linked = message.data.split("Linkedid: ", 1)[1].split("\r\n", 1)[0]
                        arrived.setdefault(linked, time.perf_counter())

            reader = asyncio.create_task(read())
            _, writer = await asyncio.open_connection("127.0.0.1", tcp_port)
            first = itertools.count(0, 100000)
            await calls.run_calls(writer, 20, 1.0, ["2000"], {}, next(first))
            await asyncio.sleep(0.5)
            for rate in rates:
                sent: dict[str, float] = {}
                await calls.run_calls(writer, rate, seconds, ["2000"], sent, next(first))
                await asyncio.sleep(0.5)
                results[rate] = [(arrived[c] - t) * 1000 for c, t in sent.items() if c in arrived]
            reader.cancel()
            writer.close()
    finally:
        relay.terminate()
        relay.wait(10)
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rates", default="10,100")
    parser.add_argument("--known", type=int, default=100, help="repeat callers (they call once in the warm-up)")
    parser.add_argument("--sockets", type=int, default=0, help="then this many more idle operator sockets")
    parser.add_argument("--profile", action="store_true", help="sample the server with py-spy, print a summary")
    parser.add_argument("--quick", action="store_true",
                        help="2 s per rate, 10 repeat callers, calls overlap the next rate: under a minute")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.known = 2.0, 10
    rates = [float(r) for r in args.rates.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        cpu: dict[str, float] = {}
        memory: dict[str, float] = {}
        profile = os.environ.get("SCREEN_POP_PROFILE") or (str(Path(tmp) / "profile.txt") if args.profile else None)
        pops, phases = await end_to_end(Path(tmp), rates, args.seconds, args.known, cpu, args.sockets, memory,
                                        profile, args.quick)
        bare = await floor(Path(tmp), rates, args.seconds)
        if profile:
            (profiles.profile_summary if profiles.py_spy() else profiles.cprofile_summary)(profile)
    load = os.getloadavg()
    frames = len(recordings.load(AMI_DIR / f"{calls.RECORDING}.ami").frames)
    recording = calls.RECORDING
    print(f"screen pop: the recorded Asterisk 22 queue call ({recording}.ami, {frames} frames, QueueCallerJoin -> "
          f"AgentCalled as recorded), {args.seconds:g} s per rate, SQLite; half the callers known, half first-time")
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    results: list[str] = []
    for label, rate in phases:
        f50, f99, fmax = stats.pct(bare[rate], 50), stats.pct(bare[rate], 99), max(bare[rate] or [float("nan")])
        print(f"{label:>20}  floor p50 {f50:5.2f} ms  p99 {f99:5.2f} ms  max {fmax:5.2f} ms   "
              f"server CPU {cpu[label]:.1f} ms/call ({cpu[label] * rate / 10:.0f}% of a core)"
              + (" in the window: calls' starts and pops only" if args.quick else ""))
        if f"{label} whole" in cpu:
            print(f"{'':>20}  server CPU {cpu[f'{label} whole']:.1f} ms/call over the calls' whole life "
                  "(answers, ends and records too: the figure a 10-s run gives)")
        for kind in ("known", "first"):
            for what in ("pop", "card"):
                values = pops.get((label, kind, what), [])
                p50, p99, top = stats.pct(values, 50), stats.pct(values, 99), max(values or [float("nan")])
                print(f"{'':>20}  {kind:>5} {what:>4}  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  max {top:7.2f} ms  "
                      f"({len(values)})  p50/floor {p50 / f50:5.1f}x")
        every = pops.get((label, "known", "pop"), []) + pops.get((label, "first", "pop"), [])
        target = 10 if rate <= 10 else 50
        print(f"{'':>20}  pop p99 < {target} ms: {'met' if stats.pct(every, 99) < target else 'NOT met'}; "
              f"p50 within 10x floor: {'met' if stats.pct(every, 50) <= 10 * f50 else 'NOT met'}")
        for kind in ("known", "first"):
            values = pops.get((label, kind, "pop"), [])
            p50 = stats.pct(values, 50)
            results.append(f"RESULT screen_pop {label.replace(' ', '')} {kind} p50_ms={p50:.2f} "
                           f"p99_ms={stats.pct(values, 99):.2f} floor_p50_ms={f50:.2f} ratio={p50 / f50:.1f}")
    if args.sockets:
        small, big = phases[0][0], phases[-1][0]
        before = stats.pct(pops.get((small, "known", "pop"), []) + pops.get((small, "first", "pop"), []), 50)
        after = stats.pct(pops.get((big, "known", "pop"), []) + pops.get((big, "first", "pop"), []), 50)
        many = memory[f"{args.sockets + 20} sockets"]
        print(f"sockets: server RSS {memory['20 sockets']:.0f} MB with 20, {many:.0f} MB with {args.sockets + 20} "
              f"(+{many - memory['20 sockets']:.0f} MB, target < 300 MB); pop p50 {before:.2f} ms with 20, "
              f"{after:.2f} ms with {args.sockets + 20} ({after / before:.2f}x, target < 2x)")
    print("\n".join(results))


if __name__ == "__main__":
    asyncio.run(main())
