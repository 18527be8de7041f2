"""Settings of how work flows: routing queues, reminders of due tasks, the queues' response clocks."""
from __future__ import annotations

from datetime import date, time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from gateway.section import Section


class QueueSettings(Section):
    """One routing queue (DESIGN.md, Routing); see routing.types.QueueConfig for the meaning."""

    policy: str = "longest_idle"
    broadcast: int = Field(1, ge=1, le=100)
    offer_timeout: float = Field(20, gt=0)
    aging_seconds: float | None = Field(60, gt=0)
    owner_wait_seconds: float = Field(30, ge=0)
    service_level_seconds: float = Field(20, gt=0)
    wrap_up_seconds: float = Field(0, ge=0)
    round_pause_seconds: float = Field(5, ge=0)  # before a task everyone declined or missed is offered again
    fixed_order: tuple[str, ...] = ()           # usernames, for policy "fixed_order"
    fairness_max: int | None = Field(None, ge=1)
    fairness_period_seconds: float = Field(3600, gt=0)
    vip_min_priority: int | None = None         # tasks at or above this priority ...
    vip_skill: str | None = None                # ... go only to agents with this skill ...
    vip_min_level: int = 1                      # ... at this level or higher
    escalation: tuple[tuple[float, tuple[str, ...]], ...] = ()   # (after seconds, team names; empty = all)
    pipeline: str | None = None                 # the funnel new leads of this queue enter; unset: the first

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
    did_pipelines: dict[str, str] = {}     # number dialled -> the funnel its callers' new leads enter

    @field_validator("queues")
    @classmethod
    def _has_default(cls, value: dict[str, QueueSettings]) -> dict[str, QueueSettings]:
        if "default" not in value:
            raise ValueError("a queue named 'default' is required: work with no queue of its own goes there")
        return value


class TaskSettings(Section):
    """Reminders of due tasks."""

    public_url: str = "http://127.0.0.1:8080"     # the console's address, for the links in reminders sent away
    timer_batch: int = Field(1000, ge=10, le=1_000_000)   # next due tasks the timer holds in memory
    recheck_seconds: float = Field(5.0, gt=0)     # tasks other processes made are picked up within this
    sweep_seconds: float = Field(30.0, gt=0)      # how often silent and forgotten leads are looked for

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected http://host[:port] or https://…")
        return value


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ResponseTargets(Section):
    first_response_minutes: float | None = Field(None, gt=0)    # business minutes to the first answer
    next_response_minutes: float | None = Field(None, gt=0)     # ... and to each answer after a client's message


class QueueClock(ResponseTargets):
    """A queue's response clocks: targets in business time, its weekly hours and holidays, in its zone."""

    time_zone: str = "UTC"
    hours: dict[Weekday, tuple[str, ...]] = {}     # {"mon": ["09:00-13:00", "14:00-18:00"]}; none at all: 24/7
    holidays: tuple[date, ...] = ()
    channels: dict[str, ResponseTargets] = {}     # per channel where the targets differ (email slower than chat)
    at_risk_share: float = Field(0.8, gt=0, le=1)  # at risk once this share of the target has passed
    reassign_after_minutes: float | None = Field(None, gt=0)   # assignee silent this long: back to routing
    forgotten_after_hours: float | None = Field(None, gt=0)    # no open task, no activity: a follow-up task
    after_hours_answer: str | None = Field(None, max_length=2000)   # "{opens_at}" is the next opening time
    after_hours_channels: tuple[str, ...] = ("email", "telegram", "whatsapp", "viber", "vk")

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Europe/Moscow)") from None
        return value

    @field_validator("hours")
    @classmethod
    def _spans(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for day, spans in value.items():
            for span in spans:
                parse_span(span, f"hours.{day}")
        return value

    def targets(self, channel: str) -> ResponseTargets:
        own = self.channels.get(channel)
        return ResponseTargets(
            first_response_minutes=(own and own.first_response_minutes) or self.first_response_minutes,
            next_response_minutes=(own and own.next_response_minutes) or self.next_response_minutes)


def parse_span(span: str, where: str) -> tuple[time, time]:
    """"09:00-18:00" as two times; "00:00-24:00" is the whole day."""
    try:
        opens, closes = span.split("-")
        start = time.fromisoformat(opens.strip())
        end = time(0) if closes.strip() == "24:00" else time.fromisoformat(closes.strip())
    except ValueError:
        raise ValueError(f"{where}: {span!r} is not HH:MM-HH:MM") from None
    if end <= start and end != time(0):
        raise ValueError(f"{where}: {span!r} closes before it opens")
    return start, end
