"""A throw-away PostgreSQL server on loopback for the test session (Debian `postgresql`)."""
from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def postgres_bin() -> Path | None:
    """The newest installed server binaries, or None when PostgreSQL is not installed."""
    for directory in BIN_DIRS:
        if (directory / "pg_ctl").exists():
            return directory
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(args: list[str]) -> list[str]:
    # initdb refuses to run as root; run the server as the `postgres` system user then.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


@contextlib.contextmanager
def running_postgres() -> Iterator[str]:
    """Start a server; yield the `host:port` it listens on; stop it and delete its files."""
    bindir = postgres_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="switchboard-pg-"))
    root.chmod(0o755)
    data = root / "data"
    data.mkdir()
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        for path in (root, data):
            os.chown(path, user.pw_uid, user.pw_gid)
    subprocess.run(_as_postgres([str(bindir / "initdb"), "--no-sync", "-A", "trust", "-U", "postgres",
                                 "-D", str(data)]), check=True, capture_output=True, timeout=120)
    # The port is free when chosen but another parallel worker may bind it first: the server then
    # exits ("could not create any TCP/IP sockets") and pg_ctl fails, so take another one.
    for attempt in range(1, 4):
        port = free_port()
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        started = subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-w", "-t", "120", "-D", str(data),
                                               "-o", options, "-l", str(root / "log"), "start"]),
                                 capture_output=True, timeout=180)
        if started.returncode == 0:
            break
        if attempt == 3:
            log = (root / "log").read_text(errors="replace") if (root / "log").exists() else ""
            shutil.rmtree(root, ignore_errors=True)
            raise RuntimeError(f"PostgreSQL did not start: {started.stderr.decode(errors='replace')} {log[-2000:]}")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)
