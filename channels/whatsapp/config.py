"""The `[whatsapp]` settings section: one WhatsApp Business number on the Cloud API."""
from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, ConfigDict, Field, StringConstraints

from channels.section import BaseUrl, ChannelSection

DEFAULT_BASE_URL = "https://graph.facebook.com/v20.0"

# Required and not blank; a phone_number_id may come as a TOML integer.
Credential = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) else v),
                       StringConstraints(strip_whitespace=True, min_length=1)]


class WhatsAppConfig(ChannelSection):
    model_config = ConfigDict(hide_input_in_errors=True)    # tokens never in a log line

    verify_token: Credential = Field(repr=False)    # what we asked Meta to send in hub.verify_token
    app_secret: Credential = Field(repr=False)      # the app's secret: signs every delivery (X-Hub-Signature-256)
    access_token: Credential = Field(repr=False)    # bearer token for the Graph API (media, replies)
    phone_number_id: Credential                     # the number replies go out from
    base_url: BaseUrl = DEFAULT_BASE_URL
    max_file_bytes: int = Field(10 * 1024 * 1024, gt=0)
    pipeline: str | None = None                     # the funnel its new leads enter; unset: the first
