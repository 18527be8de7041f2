"""A throw-away Dovecot IMAP server on loopback with one maildir user (Debian `dovecot-imapd`)."""
from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

CONFIG = """
protocols = imap
listen = 127.0.0.1
login_greeting = {greeting}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
{chroot}}}
service anvil {{
{chroot}}}
"""


@dataclass(frozen=True)
class Mailbox:
    host: str
    port: int
    username: str
    password: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_dovecot(username: str = "sales@shop.example", password: str = "secret") -> Iterator[Mailbox]:
    """Start Dovecot; yield where to reach its one user; stop it and remove its files."""
    # Not pytest's tmp_path: under a 0700 directory Dovecot's auth fails when run as root.
    root = Path(tempfile.mkdtemp(prefix="switchboard-dovecot-"))
    root.chmod(0o755)
    owner = pwd.getpwnam("dovecot") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
    (root / "mail").mkdir()
    for sub in ("run", "state"):
        (root / sub).mkdir()
    (root / "users").write_text(f"{username}:{{PLAIN}}{password}\n")
    os.chown(root / "mail", owner.pw_uid, owner.pw_gid)
    port = _free_port()
    chroot = "" if os.geteuid() == 0 else "  chroot =\n"
    # Its own greeting: what answers on the port is this server, not another parallel worker's.
    greeting = f"switchboard-test-{root.name}"
    (root / "dovecot.conf").write_text(CONFIG.format(root=root, port=port, uid=owner.pw_uid, gid=owner.pw_gid,
                                                     chroot=chroot, greeting=greeting))
    process = subprocess.Popen([DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for_greeting(port, process, root, greeting)
        yield Mailbox("127.0.0.1", port, username, password)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_greeting(port: int, process: subprocess.Popen[bytes], root: Path, greeting: str) -> None:
    deadline = time.monotonic() + 60        # a start on a busy machine
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
            raise RuntimeError(f"dovecot exited: {process.stderr.read().decode() if process.stderr else ''} {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                said = sock.recv(200)
                if said.startswith(b"* OK") and greeting.encode() in said:
                    return
                time.sleep(0.05)
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("dovecot did not greet")
