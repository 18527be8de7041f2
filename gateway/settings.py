"""Settings: one TOML file, every key overridable by `SWITCHBOARD_<SECTION>__<KEY>`, read once at start."""
from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from crm_store.types import Role


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(Section):
    url: str = "sqlite+aiosqlite:///./switchboard.db"
    # The embedded default migrates itself; a shared PostgreSQL is migrated by `switchboard migrate`.
    auto_migrate: bool | None = None


class RedisSettings(Section):
    url: str | None = None             # unset: routing state lives in this process
    prefix: str = "switchboard:"       # keys and channels, so that installations can share a server


class HttpSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    trusted_proxies: tuple[str, ...] = ()
    secure_cookies: bool = False        # set behind HTTPS
    session_hours: float = Field(12, gt=0)


class StorageSettings(Section):
    dir: str = "./switchboard-files"      # attachments of inbound messages


class PhoneSettings(Section):
    region: str = "RU"

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        import phonenumbers

        if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown phone region {value!r} (ISO 3166 code such as RU, UA, AM, FR)")
        return value.upper()


class FieldSettings(Section):
    """A field of the lead card's short form, filled by the operator while talking."""

    label: str
    label_ru: str | None = None
    choices: tuple[str, ...] = ()
    required: bool = False          # the lead cannot be closed until it is filled


class LeadSettings(Section):
    stale_after_days: float = Field(30, gt=0)
    reopen_window_hours: float = Field(72, ge=0)
    fields: dict[str, FieldSettings] = {}

    @property
    def required_fields(self) -> tuple[str, ...]:
        return tuple(name for name, f in self.fields.items() if f.required)


class PermissionSettings(Section):
    """Which roles may change records that are not theirs ("a manager may add but not delete")."""

    edit_others: tuple[Role, ...] = (Role.SUPERVISOR, Role.ADMIN)
    delete: tuple[Role, ...] = (Role.SUPERVISOR, Role.ADMIN)
    delete_others: tuple[Role, ...] = (Role.SUPERVISOR, Role.ADMIN)
    assign: tuple[Role, ...] = (Role.MANAGER, Role.SUPERVISOR, Role.ADMIN)


class QueueSettings(Section):
    """One routing queue (DESIGN.md, Routing); see routing.types.QueueConfig for the meaning."""

    policy: str = "longest_idle"
    broadcast: int = Field(1, ge=1, le=100)
    offer_timeout: float = Field(20, gt=0)
    aging_seconds: float | None = Field(60, gt=0)
    owner_wait_seconds: float = Field(30, ge=0)
    service_level_seconds: float = Field(20, gt=0)
    wrap_up_seconds: float = Field(0, ge=0)
    fixed_order: tuple[str, ...] = ()           # usernames, for policy "fixed_order"
    fairness_max: int | None = Field(None, ge=1)
    fairness_period_seconds: float = Field(3600, gt=0)
    vip_min_priority: int | None = None         # tasks at or above this priority ...
    vip_skill: str | None = None                # ... go only to agents with this skill ...
    vip_min_level: int = 1                      # ... at this level or higher
    escalation: tuple[tuple[float, tuple[str, ...]], ...] = ()   # (after seconds, team names; empty = all)

    @field_validator("policy")
    @classmethod
    def _known_policy(cls, value: str) -> str:
        allowed = ("longest_idle", "least_loaded", "highest_skill", "round_robin", "fixed_order")
        if value not in allowed:
            raise ValueError(f"policy must be one of {', '.join(allowed)}")
        return value


class RoutingSettings(Section):
    queues: dict[str, QueueSettings] = {"default": QueueSettings()}
    missed_offers_limit: int = Field(3, ge=1)
    disconnect_grace_seconds: float = Field(15, ge=0)
    # How often each process compares routing with the database and repairs what a crash or outage left.
    reconcile_seconds: float = Field(2.0, gt=0)
    # Which capacity a channel's work takes: forms wait like e-mail, messengers are chats.
    capacity_class: dict[str, str] = {
        "voice": "voice", "email": "email", "form": "email", "manual": "email",
        "telegram": "chat", "whatsapp": "chat", "viber": "chat", "vk": "chat",
    }
    chat_capacity_on_call: int | None = Field(1, ge=0)   # a live call shrinks chat capacity to this

    @field_validator("queues")
    @classmethod
    def _has_default(cls, value: dict[str, QueueSettings]) -> dict[str, QueueSettings]:
        if "default" not in value:
            raise ValueError("a queue named 'default' is required: work with no queue of its own goes there")
        return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SWITCHBOARD_", env_nested_delimiter="__", extra="forbid", frozen=True,
    )

    database: DatabaseSettings = DatabaseSettings()
    redis: RedisSettings = RedisSettings()
    http: HttpSettings = HttpSettings()
    phone: PhoneSettings = PhoneSettings()
    leads: LeadSettings = LeadSettings()
    permissions: PermissionSettings = PermissionSettings()
    routing: RoutingSettings = RoutingSettings()
    storage: StorageSettings = StorageSettings()
    # Channel tables, validated by their channel: [forms.<key>], [smtp], [imap.<name>], [email].
    forms: dict[str, dict[str, Any]] = {}
    smtp: dict[str, Any] = {}               # unset: no SMTP listener
    imap: dict[str, dict[str, Any]] = {}    # one table per mailbox
    email: dict[str, Any] = {}              # outbound relay for replies; unset: no e-mail replies
    telegram: dict[str, Any] = {}           # unset: no Telegram bot
    whatsapp: dict[str, Any] = {}
    viber: dict[str, Any] = {}
    ami: dict[str, Any] = {}                # unset: voice off (channels/asterisk/config.py)
    agi: dict[str, Any] = {}                # unset: no FastAGI routing server; {port = 4573} to start it
    log_level: str = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment beats the file: the file is passed in as init values.
        return (env_settings, init_settings)


class SettingsError(Exception):
    """The configuration cannot be used; the message says which key and why."""


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Read `path` (or $SWITCHBOARD_CONFIG), apply the environment, then explicit overrides."""
    path = path or os.environ.get("SWITCHBOARD_CONFIG")
    sections = set(Settings.model_fields) | {"config"}
    unknown = sorted(name for name in os.environ if name.startswith("SWITCHBOARD_")
                     and name[len("SWITCHBOARD_"):].split("__")[0].lower() not in sections)
    if unknown:
        # A typo in an override would otherwise be ignored without a word.
        raise SettingsError(f"unknown settings in the environment: {', '.join(unknown)}")
    data: dict[str, Any] = {}
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise SettingsError(f"cannot read config file {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"config file {path} is not valid TOML: {exc}") from exc
    try:
        settings = Settings(**data)
        if overrides:
            merged = settings.model_dump()
            for dotted, value in overrides.items():
                section, key = dotted.split("__", 1)
                merged[section][key] = value
            settings = Settings.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False)
        )
        raise SettingsError(f"invalid settings: {problems}") from exc
    return settings
