"""A service started as its own process, for tests and benchmarks: wait until it answers."""
from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import IO

import aiohttp


async def wait_ready(port: int, process: subprocess.Popen[bytes], *, path: str = "/healthz", tries: int = 1200) -> None:
    """Poll http://127.0.0.1:port{path} until it answers 200; fail at once if the process exits."""
    async with aiohttp.ClientSession() as http:
        for _ in range(tries):
            if process.poll() is not None:
                said = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise RuntimeError(f"server exited with {process.returncode}: {said[-2000:]}")
            try:
                async with http.get(f"http://127.0.0.1:{port}{path}") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("server did not start")


def start_server(port: int, env: dict[str, str], config: Path,
                 stderr: int | IO[bytes] = subprocess.PIPE) -> subprocess.Popen[bytes]:
    """`switchboard serve` on `port` with `config` and `env`, as its own process (not waited for)."""
    return subprocess.Popen([sys.executable, "-m", "gateway", "--config", str(config), "serve", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=stderr)
