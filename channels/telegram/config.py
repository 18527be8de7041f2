"""The `[telegram]` settings table, read once and checked with errors that name the key."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

MODES = ("polling", "webhook")
# What Telegram allows in a secret_token, and what fits in one URL path segment.
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    """One bot: where its Bot API is, how updates reach us and how big a file we fetch."""

    token: str
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    mode: str = "polling"                 # or "webhook"
    secret_token: str | None = None       # webhook: Telegram sends it back in X-Telegram-Bot-Api-Secret-Token
    webhook_path: str = "/telegram/webhook"   # route prefix; POST {webhook_path} and {webhook_path}/{secret_path}
    secret_path: str | None = None        # webhook: if set, only {webhook_path}/{secret_path} is answered
    webhook_url: str | None = None        # webhook: public URL registered with setWebhook at start (else set by hand)
    max_file_bytes: int = 10 * 1024 * 1024
    poll_timeout: int = 25                # seconds a getUpdates long poll is held open
    region: str = "RU"                    # for phone numbers written without a country code


def config_from_mapping(table: Mapping[str, Any], region: str) -> TelegramConfig:
    """A checked TelegramConfig from the plain `[telegram]` table; ValueError names the bad key."""
    known = {f.name for f in fields(TelegramConfig)} - {"region"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ValueError(f"telegram.{unknown[0]}: unknown setting")
    if not isinstance(table.get("token"), str) or not table["token"].strip():
        raise ValueError("telegram.token: required")
    values: dict[str, Any] = {**table, "region": region}
    for key in ("max_file_bytes", "poll_timeout"):
        if key in values:
            try:
                values[key] = int(values[key])
            except (TypeError, ValueError):
                raise ValueError(f"telegram.{key}: a whole number expected, not {values[key]!r}") from None
            if values[key] < 0 or (key == "max_file_bytes" and values[key] == 0):
                raise ValueError(f"telegram.{key}: must be positive")
    config = TelegramConfig(**values)
    if config.mode not in MODES:
        raise ValueError(f"telegram.mode: {' or '.join(MODES)}, not {config.mode!r}")
    if config.mode == "webhook" and not config.secret_token:
        raise ValueError("telegram.secret_token: required in webhook mode, or anyone could post updates")
    if config.secret_token is not None and not _SECRET.match(config.secret_token):
        raise ValueError("telegram.secret_token: 1-256 characters of A-Z, a-z, 0-9, _ and -")
    if config.secret_path is not None and not _SECRET.match(config.secret_path):
        raise ValueError("telegram.secret_path: 1-256 characters of A-Z, a-z, 0-9, _ and -")
    if not config.webhook_path.startswith("/") or config.webhook_path.endswith("/"):
        raise ValueError("telegram.webhook_path: an absolute path without a trailing slash")
    for key in ("base_url", "base_file_url", "webhook_url"):
        value = getattr(config, key)
        if value is not None and not str(value).startswith(("http://", "https://")):
            raise ValueError(f"telegram.{key}: an http(s) URL expected")
    return config
