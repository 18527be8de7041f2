"""Screen-pop latency: an `AgentCalled` frame written on the AMI socket -> `call.ringing` at the operator's websocket.

    python bench/screen_pop.py [--seconds 10] [--rates 10,100] [--operators 20]

1. end to end: `switchboard serve` in its own process (fresh SQLite, [ami] pointed at this process)
   logs in to an AMI peer here; each call is written as Asterisk writes a queue call (Newchannel,
   QueueCallerJoin, then 20 ms later the agent's channel, AgentCalled, DialBegin, DialState RINGING,
   then answer and hangup); the clock starts when the AgentCalled frame has been written and stops
   when the operator's websocket client here receives the call's `call.ringing` (with the card);
2. floor: a bare relay in its own process that reads the same frames from a TCP socket and writes
   each one to a websocket client here, at the same rates.
Both clocks are this process's `time.perf_counter`. Prints p50 / p99 per rate and the ratios; no
asserts (targets: p99 under 50 ms at 100 calls/s, p50 within 10x the floor). Also prints the server's
CPU time per call: pops queue up once that times the rate nears one core, so on a slower or busier
machine the same code misses the target, and this says which case a run is.
"""
from __future__ import annotations

import _paths  # noqa: F401  (first: see bench/_paths.py)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import aiohttp  # noqa: E402

from support.postgres_server import free_port  # noqa: E402
from support.processes import wait_ready  # noqa: E402

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


def frame(**fields: str) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in fields.items()).encode() + b"\r\n"


class AmiPeer:
    """Just enough of Asterisk's side of AMI: the banner, Login, FullyBooted, Ping and empty status lists."""

    def __init__(self) -> None:
        self.writer: asyncio.StreamWriter | None = None
        self.ready = asyncio.Event()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        buffer = b""
        while data := await reader.read(65536):
            buffer += data
            *actions, buffer = buffer.split(b"\r\n\r\n")
            for raw in actions:
                action = dict(line.split(": ", 1) for line in raw.decode().split("\r\n") if ": " in line)
                writer.write(self._answer(action))
                if action.get("Action") == "Login":
                    writer.write(frame(Event="FullyBooted", Privilege="system,all", Status="Fully Booted"))
                    self.writer = writer
                    self.ready.set()

    def _answer(self, action: dict[str, str]) -> bytes:
        aid = action.get("ActionID", "")
        name = action.get("Action", "")
        if name in ("CoreShowChannels", "QueueStatus"):
            done = "CoreShowChannelsComplete" if name == "CoreShowChannels" else "QueueStatusComplete"
            return (frame(Response="Success", ActionID=aid, EventList="start", Message="will follow")
                    + frame(Event=done, ActionID=aid, EventList="Complete", ListItems="0"))
        if name == "Ping":
            return frame(Response="Success", ActionID=aid, Ping="Pong", Timestamp=f"{time.time():.6f}")
        return frame(Response="Success", ActionID=aid, Message="Authentication accepted")


def call_frames(i: int, extension: str) -> tuple[bytes, bytes, bytes, bytes]:
    """One queue call as Asterisk writes it: caller joins; agent rings; agent answers; everybody hangs up."""
    caller, agent, linked = f"PJSIP/pstn-{i:08x}", f"PJSIP/{extension}-{i:08x}", f"1800000000.{i}"
    leg = f"1800000001.{i}"
    who = {"Channel": caller, "Uniqueid": linked, "Linkedid": linked, "CallerIDNum": f"+7495{i:07d}",
           "CallerIDName": "Иван Петров", "Exten": "6000", "Context": "from-pstn"}
    dest = {"DestChannel": agent, "DestUniqueid": leg, "DestLinkedid": linked}
    join = frame(Event="Newchannel", ChannelStateDesc="Ring", **who) + frame(Event="QueueCallerJoin", Queue="sales",
                                                                             Position="1", **who)
    ring = (frame(Event="Newchannel", Channel=agent, Uniqueid=leg, Linkedid=linked, ChannelStateDesc="Down",
                  CallerIDNum="<unknown>", CallerIDName="<unknown>", Exten=extension)
            + frame(Event="AgentCalled", Queue="sales", Interface=f"PJSIP/{extension}", MemberName=extension,
                    **who, **dest))
    dial = frame(Event="DialBegin", **who, **dest) + frame(Event="DialState", DialStatus="RINGING", **who, **dest)
    answer = (frame(Event="DialEnd", DialStatus="ANSWER", **who, **dest)
              + frame(Event="AgentConnect", Queue="sales", Interface=f"PJSIP/{extension}", HoldTime="1",
                      RingTime="1", **who, **dest)
              + frame(Event="Hangup", Channel=agent, Uniqueid=leg, Linkedid=linked, Cause="16")
              + frame(Event="Hangup", Cause="16", **who))
    return join, ring, dial, answer


async def operators(base: str, count: int) -> list[str]:
    async with aiohttp.ClientSession() as http:
        tokens = []
        for n in range(count):
            async with http.post(f"{base}/api/v1/auth/login", json={"username": f"op{n}", "password": "bench-pass"}) as r:
                tokens.append((await r.json())["token"])
        return tokens


async def run_calls(write: asyncio.StreamWriter, rate: float, seconds: float, extensions: list[str],
                    sent: dict[str, float], first: int) -> None:
    """Calls at `rate` per second; `sent[linkedid]` is when its AgentCalled frame left this process."""
    loop = asyncio.get_running_loop()

    async def one(i: int) -> None:
        join, ring, dial, answer = call_frames(i, extensions[i % len(extensions)])
        write.write(join)
        await asyncio.sleep(0.02)
        write.write(ring)
        await write.drain()
        sent[f"1800000000.{i}"] = time.perf_counter()
        write.write(dial)
        await asyncio.sleep(0.2)
        write.write(answer)

    tasks, start_at = [], loop.time()
    for n in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, start_at + n / rate - loop.time()))
        tasks.append(asyncio.create_task(one(first + n)))
    await asyncio.gather(*tasks)


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used (Linux /proc), to tell a slow server from a slow machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def end_to_end(workdir: Path, rates: list[float], seconds: float, count: int,
                     cpu: dict[float, float]) -> dict[float, list[float]]:
    peer = AmiPeer()
    ami = await asyncio.start_server(peer.serve, "127.0.0.1", 0)
    ami_port = ami.sockets[0].getsockname()[1]
    http_port = free_port()
    (workdir / "switchboard.toml").write_text(CONFIG.format(port=ami_port))
    env = {**os.environ, "SWITCHBOARD_CONFIG": str(workdir / "switchboard.toml"),
           "SWITCHBOARD_DATABASE__URL": f"sqlite+aiosqlite:///{workdir}/bench.db"}
    cli = [sys.executable, "-m", "gateway"]
    subprocess.run([*cli, "migrate"], env=env, cwd=workdir, check=True, capture_output=True)
    for n in range(count):
        subprocess.run([*cli, "user", "add", f"op{n}", "--role", "operator", "--password-stdin",
                        "--extension", str(2000 + n)], input=b"bench-pass\n", env=env, cwd=workdir, check=True,
                       capture_output=True)
    log = (workdir / "server.log").open("wb")        # a pipe nobody reads could fill and stall the server
    server = subprocess.Popen([*cli, "serve", "--port", str(http_port)], env=env, cwd=workdir,
                              stdout=subprocess.DEVNULL, stderr=log)
    results: dict[float, list[float]] = {}
    spy: subprocess.Popen[bytes] | None = None
    try:
        await wait_ready(http_port, server)
        if profile := os.environ.get("SCREEN_POP_PROFILE"):    # a py-spy file: where the server spends its time
            spy = subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(server.pid),
                                    "--nonblocking", "--threads", "--format", "speedscope", "-o", profile])
        await asyncio.wait_for(peer.ready.wait(), 10)
        base = f"http://127.0.0.1:{http_port}"
        tokens = await operators(base, count)
        arrived: dict[str, float] = {}
        async with aiohttp.ClientSession() as http:
            sockets = [await http.ws_connect(f"ws://127.0.0.1:{http_port}/ws?token={t}") for t in tokens]

            async def read(sock: aiohttp.ClientWebSocketResponse) -> None:
                async for message in sock:
                    data = json.loads(message.data)
                    if data["type"] == "call.ringing":
                        arrived.setdefault(data["data"]["call_id"], time.perf_counter())

            readers = [asyncio.create_task(read(s)) for s in sockets]
            first = itertools.count(0, 100000)
            assert peer.writer is not None
            # Warm-up outside the clock: first statements compiled, threads started, caches filled.
            await run_calls(peer.writer, 20, 1.0, [str(2000 + n) for n in range(count)], {}, next(first))
            await asyncio.sleep(1.0)
            for rate in rates:
                sent: dict[str, float] = {}
                used = cpu_seconds(server.pid)
                await run_calls(peer.writer, rate, seconds, [str(2000 + n) for n in range(count)], sent, next(first))
                await asyncio.sleep(1.0)
                cpu[rate] = (cpu_seconds(server.pid) - used) / len(sent) * 1000
                results[rate] = [(arrived[c] - t) * 1000 for c, t in sent.items() if c in arrived]
                if os.environ.get("SCREEN_POP_TRACE"):
                    print(" ".join(f"{v:.0f}" for v in results[rate]))
                missing = len(sent) - len(results[rate])
                if missing:
                    print(f"  !! {missing} of {len(sent)} pops never arrived at {rate}/s")
            for task in readers:
                task.cancel()
            for sock in sockets:
                await sock.close()
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)        # py-spy writes its file on SIGINT, not on SIGTERM
            spy.wait(30)
        server.terminate()
        server.wait(10)
        ami.close()
        log.close()
        if os.environ.get("SCREEN_POP_LOG"):          # keep the server's log for a look afterwards
            Path(os.environ["SCREEN_POP_LOG"]).write_bytes((workdir / "server.log").read_bytes())
        errors = [line for line in (workdir / "server.log").read_text().splitlines() if "Traceback" in line]
        if errors:
            print(f"  !! the server logged {len(errors)} tracebacks, the last lines:")
            print("\n".join((workdir / "server.log").read_text().splitlines()[-25:]))
    return results


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
            await run_calls(writer, 20, 1.0, ["2000"], {}, next(first))
            await asyncio.sleep(0.5)
            for rate in rates:
                sent: dict[str, float] = {}
                await run_calls(writer, rate, seconds, ["2000"], sent, next(first))
                await asyncio.sleep(0.5)
                results[rate] = [(arrived[c] - t) * 1000 for c, t in sent.items() if c in arrived]
            reader.cancel()
            writer.close()
    finally:
        relay.terminate()
        relay.wait(10)
    return results


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else (values or [float("nan")])[0]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rates", default="10,100")
    parser.add_argument("--operators", type=int, default=20)
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        cpu: dict[float, float] = {}
        pops = await end_to_end(Path(tmp), rates, args.seconds, args.operators, cpu)
        bare = await floor(Path(tmp), rates, args.seconds)
    for rate in rates:
        p50, p99 = pct(pops[rate], 50), pct(pops[rate], 99)
        f50, f99 = pct(bare[rate], 50), pct(bare[rate], 99)
        print(f"{rate:>5.0f} calls/s  pop p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  ({len(pops[rate])} pops)   "
              f"floor p50 {f50:5.2f} ms  p99 {f99:5.2f} ms   p50/floor {p50 / f50:5.1f}x   "
              f"server CPU {cpu[rate]:.1f} ms/call ({cpu[rate] * rate / 10:.0f}% of a core)")
    top = max(rates)
    print(f"target p99 < 50 ms at {top:.0f}/s: {'met' if pct(pops[top], 99) < 50 else 'NOT met'}; "
          f"p50 within 10x floor: {'met' if pct(pops[top], 50) <= 10 * pct(bare[top], 50) else 'NOT met'}")


if __name__ == "__main__":
    asyncio.run(main())
