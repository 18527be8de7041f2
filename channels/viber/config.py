"""The `[viber]` settings section: one Viber bot account."""
from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints

from channels.section import BaseUrl, ChannelSection, HttpUrl

DEFAULT_BASE_URL = "https://chatapi.viber.com"

NotBlank = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class ViberConfig(ChannelSection):
    model_config = ConfigDict(hide_input_in_errors=True)    # the token never in a log line

    auth_token: NotBlank = Field(repr=False)    # signs callbacks, authenticates our calls
    base_url: BaseUrl = DEFAULT_BASE_URL
    webhook_url: HttpUrl | None = None          # public URL of /viber/webhook, registered after start
    sender_name: NotBlank = "Switchboard"       # shown as the author of replies (required by send_message)
    max_file_bytes: int = Field(10 * 1024 * 1024, gt=0)
    pipeline: str | None = None                 # the funnel its new leads enter; unset: the first
