"""Imported first by every benchmark: the repository on the path, and bench/ off it, because
bench/email.py (named by the issue) would otherwise hide the standard library's `email`."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [str(ROOT), str(ROOT / "tests")] + [p for p in sys.path if Path(p or ".").resolve() != HERE]


def sibling(name: str) -> ModuleType:
    """Another bench's module, by path (bench/ is off sys.path), loaded once whoever asks."""
    key = f"bench_{name}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module
