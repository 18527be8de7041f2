"""Every shell block of the README runs, in order, in a copy of the repository, as a reader would.

Each ```sh block is marked by the comment line before it:
  <!-- readme-test: serve -->  run it; it ends in a server, which must answer /readyz
  <!-- readme-test: lock -->   run it; the locks it writes must equal the committed ones
  <!-- readme-test: ci -->     the test command: .ci/run runs exactly this line (the suite cannot run itself)
The copy's `.venv` sees this interpreter's installed packages (a .pth file), so the README's
`pip install -r requirements.lock` finds them installed, as pinned, instead of downloading them.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest

from support.postgres_server import free_port

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"(?:<!-- readme-test: (\w+) -->\n)?```sh\n(.*?)```", re.DOTALL)
KINDS = {"serve", "lock", "ci"}


def blocks() -> list[tuple[str | None, str]]:
    return [(kind, body) for kind, body in BLOCK.findall((ROOT / "README.md").read_text())]


def test_every_shell_block_says_how_it_is_tested() -> None:
    found = blocks()
    assert len(found) >= 4
    unmarked = [body for kind, body in found if kind not in KINDS]
    assert not unmarked, f"mark these README blocks with <!-- readme-test: serve|lock|ci -->: {unmarked}"


def test_the_readme_test_command_is_what_ci_runs() -> None:
    ci = (ROOT / ".ci/run").read_text()
    for kind, body in blocks():
        if kind == "ci":
            assert body.strip() in ci.splitlines(), f".ci/run does not run the README's {body.strip()!r}"


@pytest.fixture
def reader_copy(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The repository as a reader has it, with a `.venv` that already holds the locked packages."""
    work = tmp_path / "switchboard"
    shutil.copytree(ROOT, work, ignore=shutil.ignore_patterns(
        ".git", ".venv", "__pycache__", "*.egg-info", "*.db", "*.db-*", ".pytest_cache", ".hypothesis", "build"))
    subprocess.run([sys._base_executable, "-m", "venv", str(work / ".venv")], check=True, timeout=600)  # type: ignore[attr-defined]
    site = next((work / ".venv/lib").glob("python*/site-packages"))
    (site / "_readme_test_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys._base_executable)  # type: ignore[attr-defined]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SWITCHBOARD_", "VIRTUAL_ENV"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    return work, env


def serve(body: str, work: Path, env: dict[str, str]) -> str:
    """Run a block that ends in a server until it is ready; what it printed."""
    port = free_port()
    process = subprocess.Popen(["bash", "-euo", "pipefail", "-c", body], cwd=work,
                               env={**env, "SWITCHBOARD_HTTP__PORT": str(port)},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 600           # a pip install and a start on a busy machine
    try:
        while True:
            assert process.poll() is None, f"stopped before serving: {process.stdout.read().decode()[-3000:]}"  # type: ignore[union-attr]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "not ready within 10 minutes"
            time.sleep(0.2)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            output = process.communicate(timeout=60)[0].decode()
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            output = process.communicate()[0].decode()
    return output


@pytest.mark.long
def test_every_shell_block_of_the_readme_runs(reader_copy: tuple[Path, dict[str, str]]) -> None:
    work, env = reader_copy
    outputs = []
    for kind, body in blocks():
        if kind == "serve":
            outputs.append(serve(body, work, env))
        elif kind == "lock":
            run = subprocess.run(["bash", "-euo", "pipefail", "-c", body], cwd=work, env=env,
                                 capture_output=True, text=True, timeout=1800)
            assert run.returncode == 0, run.stderr[-3000:]
            for lock in ("requirements.lock", "requirements-test.lock"):
                assert (work / lock).read_text() == (ROOT / lock).read_text(), f"{lock} is stale: run `bash .ci/lock`"
    first, *_, last = outputs
    assert "no user exists yet" in first and "switchboard user add admin --role admin" in first
    assert "no user exists yet" not in last        # First steps created the admin first
    version = subprocess.run([str(work / ".venv/bin/switchboard"), "--version"], capture_output=True, text=True,
                             env=env, timeout=120)
    assert version.stdout.strip() == "switchboard 0.1.0"
