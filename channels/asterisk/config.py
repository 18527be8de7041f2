"""The `[ami]` settings table (voice is off without a host), read once, errors naming the key."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class AmiConfig:
    host: str
    username: str
    secret: str
    port: int = 5038
    region: str = "RU"
    device: str = "PJSIP/{extension}"          # an operator's phone, for Originate and queue membership
    outbound_context: str = "switchboard-outbound"  # where a click-to-call dials the client (examples/asterisk)
    originate_timeout: float = 30.0            # seconds the operator's phone rings before the click-to-call fails
    ping_interval: float = 10.0
    ping_timeout: float = 5.0                  # panoramisk never times a Ping out: we do, then reconnect
    reconnect_min: float = 1.0
    reconnect_max: float = 30.0
    action_timeout: float = 10.0               # CoreShowChannels / QueueStatus on (re)connect

    def device_of(self, extension: str) -> str:
        return self.device.format(extension=extension)


_NUMBERS = ("port", "originate_timeout", "ping_interval", "ping_timeout", "reconnect_min", "reconnect_max",
            "action_timeout")


def ami_from_mapping(table: Mapping[str, Any], region: str) -> AmiConfig:
    """A checked AmiConfig from the plain `[ami]` table; ValueError names the bad key."""
    known = {f.name for f in fields(AmiConfig)} - {"region"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ValueError(f"ami.{unknown[0]}: unknown setting")
    for key in ("host", "username", "secret"):
        if not isinstance(table.get(key), str) or not table[key].strip():
            raise ValueError(f"ami.{key}: required when [ami] is set")
    values: dict[str, Any] = {**table, "region": region}
    for key in _NUMBERS:
        if key in values:
            try:
                values[key] = int(values[key]) if key == "port" else float(values[key])
            except (TypeError, ValueError):
                raise ValueError(f"ami.{key}: a number expected, not {values[key]!r}") from None
            if values[key] <= 0:
                raise ValueError(f"ami.{key}: must be positive")
    config = AmiConfig(**values)
    if "{extension}" not in config.device:
        raise ValueError("ami.device: must contain {extension}, e.g. PJSIP/{extension}")
    if config.reconnect_max < config.reconnect_min:
        raise ValueError("ami.reconnect_max: must not be below reconnect_min")
    return config
