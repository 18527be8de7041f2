"""The `[ami]` section (voice is off without it) and `[agi]` (the FastAGI routing server), typed and checked at load."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, field_validator, model_validator

from channels.section import ChannelSection

NotBlank = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Seconds = Annotated[float, Field(gt=0)]


class AmiConfig(ChannelSection):
    host: NotBlank
    username: NotBlank
    secret: NotBlank = Field(repr=False)
    port: int = Field(5038, gt=0, lt=65536)
    device: str = "PJSIP/{extension}"          # an operator's phone, for Originate and queue membership
    outbound_context: str = "switchboard-outbound"  # where a click-to-call dials the client (examples/asterisk)
    originate_timeout: Seconds = 30.0          # seconds the operator's phone rings before the click-to-call fails
    ping_interval: Seconds = 10.0
    ping_timeout: Seconds = 5.0                # panoramisk never times a Ping out: we do, then reconnect
    reconnect_min: Seconds = 1.0
    reconnect_max: Seconds = 30.0
    action_timeout: Seconds = 10.0             # CoreShowChannels / QueueStatus on (re)connect

    @field_validator("device")
    @classmethod
    def _has_extension(cls, value: str) -> str:
        if "{extension}" not in value:
            raise ValueError("must contain {extension}, e.g. PJSIP/{extension}")
        return value

    @model_validator(mode="after")
    def _reconnect_range(self) -> AmiConfig:
        if self.reconnect_max < self.reconnect_min:
            raise ValueError("reconnect_max must not be below reconnect_min")
        return self

    def device_of(self, extension: str) -> str:
        return self.device.format(extension=extension)


class AgiConfig(ChannelSection):
    """Asterisk asks this server, per call, which operator's phone to ring (examples/asterisk)."""

    host: str = "127.0.0.1"
    port: int = Field(4573, ge=0, le=65535)
    budget_seconds: Seconds = 0.15             # past this the dialplan's own order is used
