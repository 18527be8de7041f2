"""Every benchmark in its quick form, one after another, and one table of their figures.

    python bench/all.py [--only ingest,loop,...] [--timeout 600]

Each bench runs as `python bench/<name>.py --quick` in its own process (so one failing does not
stop the others) and prints `RESULT <what> key=value ...` lines; the table shows those. A bench
that prints no RESULT line (or, like an older screen_pop.py, takes no --quick) is shown with the
last line it printed, or the reason it gave none. Full runs (no --quick) are in bench/README.md.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ("ingest", "loop", "scale_out", "email", "routing", "search", "screen_pop", "agi", "messenger", "import",
           "reminders", "reports", "bigdb")


def run(name: str, timeout: float) -> tuple[list[str], float]:
    """The rows one bench contributes, and its wall time."""
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, str(HERE / f"{name}.py"), "--quick"], capture_output=True,
                              text=True, timeout=timeout, cwd=HERE.parent)
    except subprocess.TimeoutExpired:
        return [f"{name:<12} timed out after {timeout:.0f} s"], time.perf_counter() - started
    seconds = time.perf_counter() - started
    results = [line.removeprefix("RESULT ").strip() for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if results:
        return [f"{name:<12} {r}" for r in results], seconds
    if done.returncode == 2 and "--quick" in done.stderr:
        return [f"{name:<12} n/a: this version of {name}.py takes no --quick"], seconds
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return [f"{name:<12} failed ({done.returncode}): {last[:150]}"], seconds
    figures = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    return [f"{name:<12} {line[:150]}" for line in figures[-3:]] or [f"{name:<12} printed nothing"], seconds


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "?")
    return f"{os.cpu_count()} cores, {cpu}, Python {sys.version.split()[0]}"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} {five:.1f} {fifteen:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(BENCHES))
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    print(f"machine: {machine()}; load {load()} at the start ({started})", flush=True)
    rows: list[str] = []
    for name in args.only.split(","):
        print(f"running {name} --quick ...", file=sys.stderr, flush=True)
        before = load()
        lines, seconds = run(name, args.timeout)
        # The load beside every figure: on a shared machine the absolute rates follow it, the ratios much less.
        rows += [f"{line}  [load {before}, {seconds:.0f} s]" for line in lines]
        print(f"  {name}: {seconds:.0f} s", file=sys.stderr, flush=True)
    header = f"{machine()} | {started} | load at the start of each bench in brackets"
    width = max(len(r) for r in [*rows, header])
    print("-" * width)
    print(header)
    print("-" * width)
    print("\n".join(rows))
    print("-" * width)
    print(f"load at the end: {load()}")


if __name__ == "__main__":
    main()
