"""FastAGI `route` latency against floors measured in the same run, all on 127.0.0.1.

    python bench/agi.py [--requests 1000] [--quick]

Each request is what Asterisk does per call: open a connection, send the AGI environment
(~700 bytes), answer two `SET VARIABLE` commands with `200 result=1`, see the server close.
The chooser is in memory (a dict of caller -> owner), so the numbers are the server's own cost.
Floors, same loop, same client:
  echo      connect, send the environment, read one line back, close (one round trip);
  bare AGI  the same three exchanges as the real thing against a plain asyncio server that
            answers without panoramisk, our guards or a chooser.
Concurrency 1 and 20; p50 / p99 per request and the ratio to each floor. Client and servers share
one event loop (one core), so at concurrency 20 the latency is mostly queueing: read req/s there.
The variants run in interleaved rounds, so noise from other work on the machine hits each alike.
No asserts.
"""
from __future__ import annotations

import _paths  # noqa: F401  (first: see bench/_paths.py)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402

from channels.asterisk.agi import AgiRouteServer, RouteAnswer, RouteRequest  # noqa: E402

HOST = "127.0.0.1"
Client = Callable[[int, int], Awaitable[None]]


def environment(port: int, i: int) -> bytes:
    env = {
        "agi_network": "yes", "agi_network_script": "route", "agi_request": f"agi://{HOST}:{port}/route",
        "agi_channel": f"PJSIP/pstn-{i:08x}", "agi_language": "en", "agi_type": "PJSIP",
        "agi_uniqueid": f"1795384335.{i}", "agi_version": "22.10.0", "agi_callerid": f"+7495{i % 500:07d}",
        "agi_calleridname": "Иван Петров", "agi_callingpres": "0", "agi_callingani2": "0", "agi_callington": "0",
        "agi_callingtns": "0", "agi_dnid": "6000", "agi_rdnis": "unknown", "agi_context": "from-pstn",
        "agi_extension": "6000", "agi_priority": "1", "agi_enhanced": "0.0", "agi_accountcode": "",
        "agi_threadid": "140298471085632", "agi_arg_1": "sales", "agi_arg_2": "101", "agi_arg_3": f"1795384335.{i}",
    }
    return "".join(f"{k}: {v}\n" for k, v in env.items()).encode() + b"\n"


class MemoryChooser:
    """Owners for half the callers; the rest go to routing's stand-in."""

    def __init__(self) -> None:
        self.owners = {f"+7495{n:07d}": str(101 + n % 20) for n in range(0, 500, 2)}

    async def choose(self, request: RouteRequest) -> RouteAnswer | None:
        owner = self.owners.get(request.caller or "")
        return RouteAnswer(owner, "owner") if owner else RouteAnswer("120", "routing")


async def agi_client(port: int, i: int) -> None:
    """Asterisk's side of one AGI call."""
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(environment(port, i))
    while await reader.readline():
        writer.write(b"200 result=1\n")
    writer.close()


async def echo_client(port: int, i: int) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(environment(port, i))
    await reader.readline()
    writer.close()


async def echo_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\n\n")
    writer.write(b"200 result=1\n")
    writer.close()


async def bare_agi_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The AGI exchange with nothing else: read the environment, two commands, close."""
    await reader.readuntil(b"\n\n")
    for command in (b'SET VARIABLE SWITCHBOARD_EXTEN "101"\n', b'SET VARIABLE SWITCHBOARD_REASON "owner"\n'):
        writer.write(command)
        await reader.readline()
    writer.close()


async def run(client: Client, port: int, requests: int, concurrency: int) -> tuple[list[float], float]:
    """`requests` calls spread over `concurrency` workers; per-call latencies and the wall time."""
    samples: list[float] = []
    counter = iter(range(requests))

    async def worker() -> None:
        for i in counter:
            start = time.perf_counter()
            await client(port, i)
            samples.append(time.perf_counter() - start)

    start = time.perf_counter()
    async with asyncio.timeout(120):
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return samples, time.perf_counter() - start


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def row(label: str, samples: list[float], wall: float) -> str:
    return (f"  {label:<30} {len(samples) / wall:>8,.0f} req/s   p50 {pct(samples, .5) * 1e3:6.3f} ms"
            f"   p99 {pct(samples, .99) * 1e3:6.3f} ms")


async def measure(requests: int, concurrency: int, rounds: int = 5) -> dict[str, list[float]]:
    """The three variants in interleaved rounds, so that noise from other work hits each alike."""
    echo = await asyncio.start_server(echo_server, HOST, 0)
    bare = await asyncio.start_server(bare_agi_server, HOST, 0)
    results: dict[str, list[float]] = {}
    walls: dict[str, float] = {}
    async with echo, bare, AgiRouteServer(MemoryChooser(), host=HOST, port=0) as agi:
        variants = (("echo (floor)", echo_client, echo.sockets[0].getsockname()[1]),
                    ("bare AGI exchange (floor)", agi_client, bare.sockets[0].getsockname()[1]),
                    ("AgiRouteServer route", agi_client, agi.port))
        for _, client, port in variants:
            await run(client, port, min(100, requests), concurrency)        # warm up
        for _ in range(rounds):
            for label, client, port in variants:
                samples, wall = await run(client, port, requests // rounds, concurrency)
                results.setdefault(label, []).extend(samples)
                walls[label] = walls.get(label, 0.0) + wall
    for label, samples in results.items():
        print(row(label, samples, walls[label]))
    route = results["AgiRouteServer route"]
    for floor in ("echo (floor)", "bare AGI exchange (floor)"):
        base = results[floor]
        print(f"  route / {floor:<26} p50 x{pct(route, .5) / pct(base, .5):5.2f}"
              f"   p99 x{pct(route, .99) / pct(base, .99):5.2f}")
    return results


def result(label: str, results: dict[str, list[float]]) -> None:
    route, floor = results["AgiRouteServer route"], results["bare AGI exchange (floor)"]
    print(f"RESULT agi_{label} p50_ms={pct(route, .5) * 1e3:.3f} floor_p50_ms={pct(floor, .5) * 1e3:.3f} "
          f"ratio_p50={pct(route, .5) / pct(floor, .5):.2f}", flush=True)


async def main_async(args: argparse.Namespace) -> None:
    for concurrency in (1, 20):
        print(f"{args.requests:,} requests, concurrency {concurrency}, logging off:")
        result(f"c{concurrency}", await measure(args.requests, concurrency))
    if args.quick:
        return
    # Production logs one INFO line per call (and panoramisk one more): what does that cost?
    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    print(f"{args.requests:,} requests, concurrency 1, INFO log lines formatted to /dev/null:")
    await measure(args.requests, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="500 requests, without the logging run")
    args = parser.parse_args()
    if args.quick:
        args.requests = 500
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
