"""Settings: one TOML file, every key overridable by `SWITCHBOARD_<SECTION>__<KEY>`, read once at start."""
from __future__ import annotations

import os
import tomllib
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from channels.asterisk.config import AgiConfig, AmiConfig
from channels.email.config import Mailboxes, OutboundConfig, SmtpConfig
from channels.section import describe
from channels.telegram.config import TelegramConfig
from channels.viber.config import ViberConfig
from channels.webform.config import DEFAULT_FORM, Forms
from channels.whatsapp.config import WhatsAppConfig
from crm_store.session import check_async_url
from crm_store.reports import RATING_FIGURES
from crm_store.types import CLOSED_STATUSES, LeadStatus, Role
from gateway.section import Section
from gateway.work_settings import QueueClock, RoutingSettings, TaskSettings


class DatabaseSettings(Section):
    url: str = "sqlite+aiosqlite:///./switchboard.db"
    # The embedded default migrates itself; a shared PostgreSQL is migrated by `switchboard migrate`.
    auto_migrate: bool | None = None

    @field_validator("url")
    @classmethod
    def _async_url(cls, value: str) -> str:
        # Checked here so that a typo stops every command with one line, not a driver's traceback.
        check_async_url(value)
        return value


class LogSettings(Section):
    level: str = "INFO"
    format: Literal["text", "json"] = "text"      # json: one object per line, for a log shipper
    access: bool = True                           # one line per HTTP request ...
    access_skip: tuple[str, ...] = ("/healthz", "/readyz", "/metrics", "/ui/")  # ... except probes and assets

    @field_validator("level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return value.upper()


class ConsoleSettings(Section):
    """How the operator console behaves on screen."""

    # A finished card (a call that ended, a missed call) stays this long so the operator sees how it ended,
    # then clears itself: the incoming column only holds what can still be acted on.
    finished_card_seconds: float = Field(default=8.0, ge=0, le=600)
    # How a pop names where a contact came from: a number dialled (DID), a queue, a form, a mailbox or a bot
    # -> words, e.g. {"+74950001122" = "Sales line", "support" = "Support"}; unnamed ones show as they are.
    source_labels: dict[str, str] = {}


class MetricsSettings(Section):
    """Who may read /metrics: anyone by default; else clients in `allow` or bearing `token`."""

    allow: tuple[IPv4Network | IPv6Network, ...] = ()
    token: SecretStr | None = None


class RedisSettings(Section):
    url: str | None = None             # unset: routing state lives in this process
    prefix: str = "switchboard:"       # keys and channels, so that installations can share a server

    @field_validator("url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected redis://host:port/db, rediss://… or unix:///path")
        return value


class HttpSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    trusted_proxies: tuple[str, ...] = ()
    secure_cookies: bool = False        # set behind HTTPS
    session_hours: float = Field(12, gt=0)
    # A connection must finish its request headers (and an idle keep-alive connection send its next
    # request) within this; it is aiohttp's keep-alive timer, which also runs before the first request.
    header_timeout_seconds: float = Field(15, gt=0)
    login_failures_per_account: int = Field(5, ge=1)      # then 429 until the window lets one go
    login_failures_per_address: int = Field(30, ge=1)
    login_window_seconds: float = Field(900, gt=0)
    # CPython's GIL switch interval for `serve` (its default is 5 ms): see gateway/cli.py.
    switch_interval_ms: float = Field(1.0, gt=0, le=100)


class StorageSettings(Section):
    dir: str = "./switchboard-files"      # attachments of inbound messages


class VoiceSettings(Section):
    # Where the PBX's call recordings are (mounted or synced here); a recording is looked up by its file
    # name in this folder only, never by the path the PBX reports. Unset: recordings are not served.
    recordings_dir: str | None = None


class ImportSettings(Section):
    """`[imports]`: who may import clients and leads from files, and how big a file may be."""

    roles: tuple[Role, ...] = (Role.ADMIN,)
    max_bytes: int = Field(50 * 1024 * 1024, ge=1024)       # an upload larger than this is refused (413)
    max_rows: int = Field(200_000, ge=1)                    # data rows; a file with more is refused before any write
    batch_rows: int = Field(500, ge=1, le=10_000)           # rows per transaction (the resume point)
    currency: str = Field("RUB", pattern=r"^[A-Z]{3}$")     # amounts without a currency column
    # A file with more rows left than this is read and mapped in a child process, on another core than the writes.
    mapping_process_rows: int = Field(20_000, ge=0)
    # An upload not run (or only rehearsed) for this long is cancelled and its file removed from the data folder.
    keep_unused_hours: int = Field(72, ge=1)


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
    choices: tuple[str, ...] = ()                # when given, the only values the server accepts
    required: bool = False                       # the lead cannot be closed (won, lost, closed) until it is filled
    required_at: tuple[LeadStatus, ...] = ()     # or exactly these statuses cannot be reached until it is filled


class LeadSettings(Section):
    stale_after_days: float = Field(30, gt=0)
    reopen_window_hours: float = Field(72, ge=0)
    fields: dict[str, FieldSettings] = {}

    @property
    def required_fields(self) -> dict[str, tuple[str, ...]]:
        """Status -> the fields a lead must have filled to move there."""
        needed: dict[str, list[str]] = {}
        for name, f in self.fields.items():
            for status in f.required_at or (CLOSED_STATUSES if f.required else ()):
                needed.setdefault(str(status), []).append(name)
        return {status: tuple(names) for status, names in needed.items()}


class PipelineSettings(Section):
    """The funnels' shared lists (the funnels themselves are data: /api/v1/pipelines)."""

    lost_reasons: tuple[str, ...] = ("price", "competitor", "no_budget", "no_answer", "not_needed", "other")


class PermissionSettings(Section):
    """Which roles may change records that are not theirs ("a manager may add but not delete")."""

    edit_others: tuple[Role, ...] = (Role.SUPERVISOR, Role.ADMIN)
    delete: tuple[Role, ...] = (Role.SUPERVISOR, Role.ADMIN)
    delete_others: tuple[Role, ...] = (Role.SUPERVISOR, Role.ADMIN)
    assign: tuple[Role, ...] = (Role.MANAGER, Role.SUPERVISOR, Role.ADMIN)


class ReportSettings(Section):
    """How reports count: days in the company's time zone; the managers' rating weighs these figures."""

    timezone: str = "UTC"
    # [reports.rating]: figure = weight (crm_store.reports.RATING_FIGURES); negative weights count against.
    rating: dict[str, float] = {"offers_accepted": 1.0, "offers_timed_out": -1.0, "calls_in_answered": 1.0,
                                "calls_in_missed": -1.0, "messages_answered": 0.5, "emails_answered": 0.5,
                                "leads_won": 5.0}

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone {value!r} is not an IANA time zone such as Europe/Moscow") from None
        return value

    @field_validator("rating")
    @classmethod
    def _known_figures(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(RATING_FIGURES))
        if unknown:
            raise ValueError(f"rating weighs unknown figures {', '.join(unknown)}; known: {', '.join(RATING_FIGURES)}")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SWITCHBOARD_", env_nested_delimiter="__", extra="forbid", frozen=True,
    )

    database: DatabaseSettings = DatabaseSettings()
    redis: RedisSettings = RedisSettings()
    http: HttpSettings = HttpSettings()
    phone: PhoneSettings = PhoneSettings()
    imports: ImportSettings = ImportSettings()
    leads: LeadSettings = LeadSettings()
    pipelines: PipelineSettings = PipelineSettings()
    permissions: PermissionSettings = PermissionSettings()
    routing: RoutingSettings = RoutingSettings()
    storage: StorageSettings = StorageSettings()
    voice: VoiceSettings = VoiceSettings()
    tasks: TaskSettings = TaskSettings()
    clocks: dict[str, QueueClock] = {}      # [clocks.<queue>]: response targets, hours, holidays; none: no clocks
    reports: ReportSettings = ReportSettings()
    # The channels' sections, each typed by its channel (channels/<name>/config.py); unset: channel off.
    forms: Forms = Field(default_factory=lambda: {"default": DEFAULT_FORM})   # [forms.<key>], `default` always
    smtp: SmtpConfig | None = None          # the SMTP listener
    imap: Mailboxes = {}                    # [imap.<name>]: one table per mailbox
    email: OutboundConfig | None = None     # the outbound relay for replies
    telegram: TelegramConfig | None = None
    whatsapp: WhatsAppConfig | None = None
    viber: ViberConfig | None = None
    ami: AmiConfig | None = None            # voice
    agi: AgiConfig | None = None            # the FastAGI routing server; `[agi]` alone starts it on 4573
    log: LogSettings = LogSettings()
    console: ConsoleSettings = ConsoleSettings()
    metrics: MetricsSettings = MetricsSettings()
    log_level: str | None = None            # older spelling of [log] level, still honoured

    @property
    def log_level_name(self) -> str:
        return (self.log_level or self.log.level).upper()

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
        raise SettingsError(f"invalid settings: {describe(exc)}") from exc
    return settings
