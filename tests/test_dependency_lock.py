"""The hashed locks match pyproject.toml: every declared requirement is pinned within its range,
everything the pinned packages need is pinned too, and nothing else is.

Offline on purpose: the metadata of the installed packages (installed from the lock) says what
each pinned release requires. `bash .ci/lock` fixes any failure here.
"""

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s\\;]+)", re.MULTILINE)
FIX = "stale lock: run `bash .ci/lock` (README, Dependencies)"


def pins(lock_name: str) -> dict[str, str]:
    text = (ROOT / lock_name).read_text()
    found = {canonicalize_name(name): version for name, version in PIN.findall(text)}
    for block in re.split(r"\n(?=[A-Za-z0-9_.\-]+==)", text):
        if PIN.match(block):
            assert "--hash=sha256:" in block, f"{lock_name}: {block.split()[0]} has no hash"
    return found


def declared(extras: tuple[str, ...]) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    for extra in extras:
        reqs += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return reqs


def applies(req: Requirement, extra: str = "") -> bool:
    if req.marker is None:
        return True
    return req.marker.evaluate({**default_environment(), "extra": extra})


def closure(roots: list[Requirement]) -> set[str]:
    """Every distribution the roots need on this interpreter, following extras."""
    needed: set[str] = set()
    queue = [(canonicalize_name(r.name), frozenset(r.extras)) for r in roots if applies(r)]
    seen: set[tuple[str, frozenset[str]]] = set()
    while queue:
        name, extras = queue.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        needed.add(name)
        for raw in metadata.requires(name) or []:
            req = Requirement(raw)
            if any(applies(req, e) for e in ("", *extras)):
                queue.append((canonicalize_name(req.name), frozenset(req.extras)))
    return needed


@pytest.mark.parametrize(
    ("lock_name", "extras"), [("requirements.lock", ()), ("requirements-test.lock", ("test",))]
)
def test_the_lock_pins_exactly_what_pyproject_needs(lock_name: str, extras: tuple[str, ...]) -> None:
    locked = pins(lock_name)
    roots = declared(extras)
    for req in roots:
        name = canonicalize_name(req.name)
        assert name in locked, f"{lock_name} lacks {req}; {FIX}"
        assert req.specifier.contains(locked[name], prereleases=True), (
            f"{lock_name} pins {name}=={locked[name]}, outside {req}; {FIX}"
        )
    for name, version in locked.items():
        installed = metadata.version(name)
        assert installed == version, (
            f"{name} {installed} is installed but {lock_name} pins {version}: "
            "install from the lock (README)"
        )
    needed = closure(roots)
    assert not needed - locked.keys(), f"{lock_name} lacks {sorted(needed - locked.keys())}; {FIX}"
    assert not locked.keys() - needed, f"{lock_name} pins unused {sorted(locked.keys() - needed)}; {FIX}"


def test_the_runtime_lock_agrees_with_the_test_lock() -> None:
    runtime, test = pins("requirements.lock"), pins("requirements-test.lock")
    differ = {n: (v, test.get(n)) for n, v in runtime.items() if test.get(n) != v}
    assert not differ, f"the two locks pin differently: {differ}; {FIX}"
