"""Imported first by every benchmark: the repository on the path, and bench/ off it, because
bench/email.py (named by the issue) would otherwise hide the standard library's `email`."""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [str(ROOT), str(ROOT / "tests")] + [p for p in sys.path if Path(p or ".").resolve() != HERE]
