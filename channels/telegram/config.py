"""The `[telegram]` settings section: one bot, typed and checked when the settings load."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from channels.section import ChannelSection, HttpUrl


# What Telegram allows in a secret_token, and what fits in one URL path segment.
Secret = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,256}$")]


class TelegramConfig(ChannelSection):
    """One bot: where its Bot API is, how updates reach us and how big a file we fetch."""

    token: str = Field(repr=False)
    base_url: HttpUrl = "https://api.telegram.org/bot"
    base_file_url: HttpUrl = "https://api.telegram.org/file/bot"
    mode: Literal["polling", "webhook"] = "polling"
    # webhook: Telegram sends it back in X-Telegram-Bot-Api-Secret-Token
    secret_token: Secret | None = Field(None, repr=False, validate_default=True)
    webhook_path: str = "/telegram/webhook"   # route prefix; POST {webhook_path} and {webhook_path}/{secret_path}
    secret_path: Secret | None = Field(None, repr=False)   # webhook: if set, only {webhook_path}/{secret_path} is answered
    webhook_url: HttpUrl | None = None  # registered with setWebhook at start
    max_file_bytes: int = Field(10 * 1024 * 1024, gt=0)
    pipeline: str | None = None               # the funnel the bot's new leads enter; unset: the first
    poll_timeout: int = Field(25, ge=0)       # seconds a getUpdates long poll is held open

    @field_validator("token")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("required")
        return value

    @field_validator("webhook_path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/") or value.endswith("/"):
            raise ValueError("an absolute path without a trailing slash")
        return value

    @field_validator("secret_token")
    @classmethod
    def _webhook_is_secret(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("mode") == "webhook" and not value:
            raise ValueError("required in webhook mode, or anyone could post updates")
        return value
