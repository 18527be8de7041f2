"""A throw-away redis-server on loopback: a context manager and a session fixture for any test package."""
from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator

import pytest

REDIS_SERVER = "/usr/bin/redis-server"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ping(port: int, pid: int | None = None) -> bool:
    """True if a redis-server answers on `port` (and, given `pid`, is that process, not another worker's)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            if pid is None:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
            sock.sendall(b"INFO server\r\n")
            said = b""
            while b"process_id:" not in said or not said.endswith(b"\r\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    return False
                said += chunk
            return f"process_id:{pid}\r\n".encode() in said
    except OSError:
        return False


@contextlib.contextmanager
def running_redis(timeout: float = 10.0) -> Iterator[str]:
    """Start redis-server on a free loopback port; yield its URL; kill and reap it."""
    binary = shutil.which("redis-server") or REDIS_SERVER
    workdir = tempfile.mkdtemp(prefix="switchboard-redis-")
    try:
        # The port is free when chosen but another parallel worker may bind it first: then take another.
        for attempt in range(1, 4):
            port = free_port()
            proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                     "--appendonly", "no", "--dir", workdir, "--protected-mode", "yes"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                if _answers(proc, port, timeout):
                    yield f"redis://127.0.0.1:{port}/0"
                    return
                if attempt == 3:
                    raise RuntimeError(f"redis-server exited with {proc.returncode}")
            finally:
                proc.kill()
                proc.wait(timeout=10)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _answers(proc: subprocess.Popen[bytes], port: int, timeout: float) -> bool:
    """True once the server answers PING; False if it exited first (its port was taken)."""
    deadline = time.monotonic() + timeout
    while not _ping(port, proc.pid):
        if proc.poll() is not None:
            return False
        if time.monotonic() > deadline:
            raise RuntimeError("redis-server did not answer PING in time")
        time.sleep(0.01)
    return True


@contextlib.asynccontextmanager
async def running_redis_async(timeout: float = 10.0) -> AsyncIterator[str]:
    """`running_redis` for async code: start and stop happen off the event loop."""
    manager = running_redis(timeout)
    url = await asyncio.to_thread(manager.__enter__)
    try:
        yield url
    finally:
        await asyncio.to_thread(manager.__exit__, None, None, None)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """One redis-server for the whole session; isolate tests with a unique key prefix or FLUSHDB."""
    with running_redis() as url:
        yield url
