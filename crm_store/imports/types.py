"""The values an import hands the store: one mapped row, the choices made for the run, and what a batch did."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class OnMatch(StrEnum):
    """What a row does to a client already known by one of its phones, e-mails or messenger ids."""

    FILL = "fill"              # fill what the client lacks, keep what is there
    OVERWRITE = "overwrite"    # the file wins
    SKIP = "skip"              # leave the client alone; the row is counted as skipped


class JobState(StrEnum):
    UPLOADED = "uploaded"      # read and previewed, waiting for its mapping
    RUNNING = "running"
    CANCELLING = "cancelling"  # stops after the batch in progress
    CANCELLED = "cancelled"
    DONE = "done"
    FAILED = "failed"


ACTIVE_STATES = (JobState.RUNNING, JobState.CANCELLING)


@dataclass(frozen=True, slots=True)
class LeadPart:
    """The deal a row describes, as typed (names of pipeline, stage and owner are resolved by the store)."""

    title: str | None = None
    pipeline: str | None = None
    stage: str | None = None
    amount: int | None = None          # minor units
    currency: str | None = None
    owner: str | None = None           # login or e-mail
    created_at: datetime | None = None
    source: str | None = None
    notes: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One data row of the file, mapped and normalised; `number` counts data rows from 1."""

    number: int
    fingerprint: str                               # the same row of the same file re-imported is known by it
    name: str | None = None
    identities: tuple[tuple[str, str], ...] = ()   # (kind, value): phone in E.164, e-mail normalised, telegram ...
    company: str | None = None
    position: str | None = None
    tags: tuple[str, ...] = ()
    contact_fields: Mapping[str, Any] = field(default_factory=dict)
    lead: LeadPart | None = None
    raw: tuple[str, ...] = ()                      # the cells as read, for the rejected rows' file


@dataclass(frozen=True, slots=True)
class Reject:
    number: int
    reason: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RunOptions:
    import_id: int | None
    on_match: OnMatch
    user_id: int | None


@dataclass(slots=True)
class Counts:
    created: int = 0
    joined: int = 0
    skipped: int = 0
    invalid: int = 0
    merges: int = 0
    leads: int = 0

    def add(self, other: Counts) -> None:
        for name in self.__slots__:       # type: ignore[attr-defined]
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}    # type: ignore[attr-defined]
