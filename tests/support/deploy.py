"""What docker-compose.yml runs, read by the tests that must run the same configuration."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def switchboard_services() -> dict[str, dict[str, Any]]:
    """The long-running switchboard processes (built from the Dockerfile, default command `serve`)."""
    return {name: service for name, service in compose()["services"].items()
            if "build" in service and "command" not in service}


def switchboard_config() -> Path:
    """The TOML file the switchboard services mount at $SWITCHBOARD_CONFIG, as a path in the repository."""
    paths = set()
    for service in switchboard_services().values():
        inside = service["environment"]["SWITCHBOARD_CONFIG"]
        for volume in service["volumes"]:
            source, _, rest = volume.partition(":")
            if rest.split(":")[0] == inside:
                paths.add(source)
    assert len(paths) == 1, f"the switchboard services mount different configurations: {paths}"
    return (ROOT / paths.pop()).resolve()
