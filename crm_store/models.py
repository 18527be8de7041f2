"""SQLAlchemy models: who our clients are, what they asked, who works them, and who looked."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets 64-bit keys.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, datetime: UtcDateTime}


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    extension: Mapped[str | None] = mapped_column(String(40), unique=True)
    skills: Mapped[dict[str, Any]] = mapped_column(default=dict)      # {"sales": 3, "en": 1}
    capacity: Mapped[dict[str, Any]] = mapped_column(default=dict)    # {"voice": 1, "chat": 4}
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    locale: Mapped[str] = mapped_column(String(10), default="en")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    display_name: Mapped[str | None] = mapped_column(Text)     # as the client gave it, any length
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    identities: Mapped[list[Identity]] = relationship(back_populates="contact", lazy="raise")


class Identity(Base):
    """One way to reach a contact; `(kind, value)` belongs to exactly one contact."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(320))
    confidence: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]

    contact: Mapped[Contact] = relationship(back_populates="identities", lazy="raise")


class Lead(Base):
    __tablename__ = "leads"
    __table_args__ = (
        Index(None, "contact_id", "status"),
        Index(None, "assignee_id", "status"),
        Index(None, "status", "last_activity_at"),
        Index(None, "closed_at"),        # the manager report's won and lost of a period
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    status: Mapped[str] = mapped_column(String(20))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str] = mapped_column(String(20))           # the channel that opened it
    source: Mapped[dict[str, Any]] = mapped_column(default=dict)      # form, utm_*, DID, deep link
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    subject: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    outcome: Mapped[str | None] = mapped_column(String(20))
    lost_reason: Mapped[str | None] = mapped_column(String(500))
    handed_over_to: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_activity_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    # Normalised name, identities and text for search (crm_store.search); its index is in migration 0002.
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")

    contact: Mapped[Contact] = relationship(lazy="raise")


class Interaction(Base):
    """One inbound or outbound event on a lead's timeline; `(channel, event_id)` makes it happen once."""

    __tablename__ = "interactions"
    __table_args__ = (
        UniqueConstraint("channel", "event_id"),
        Index(None, "channel", "thread_ref"),
        Index(None, "lead_id", "created_at"),
        Index(None, "created_at"),       # reports read a period of every channel
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(300))
    direction: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str | None] = mapped_column(Text)
    thread_ref: Mapped[str | None] = mapped_column(String(300))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    delivery: Mapped[str | None] = mapped_column(String(20))   # outbound: queued / sent / failed
    created_at: Mapped[datetime]

    lead: Mapped[Lead] = relationship(lazy="raise")
    contact: Mapped[Contact] = relationship(lazy="raise")


class MergeSuggestion(Base):
    """Two contacts that one submission tied together; a manager decides."""

    __tablename__ = "merge_suggestions"
    __table_args__ = (UniqueConstraint("contact_a_id", "contact_b_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    contact_a_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    contact_b_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    created_at: Mapped[datetime]
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]

    contact_a: Mapped[Contact] = relationship(foreign_keys=[contact_a_id], lazy="raise")
    contact_b: Mapped[Contact] = relationship(foreign_keys=[contact_b_id], lazy="raise")


class ContactMerge(Base):
    """What a merge moved, so that it can be undone exactly."""

    __tablename__ = "contact_merges"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    merged_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    moved: Mapped[dict[str, Any]] = mapped_column()   # {"identities": [...], "leads": [...], ...}
    previous_owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    undone_at: Mapped[datetime | None]


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "lead_id", "at"), Index(None, "user_id", "at"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(60))     # lead.read, lead.update, auth.denied, ...
    outcome: Mapped[str] = mapped_column(String(20))    # ok / denied / unauthenticated
    lead_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    contact_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ApiSession(Base):
    """A login: the token itself is never stored, only its SHA-256."""

    __tablename__ = "api_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class RoutingTask(Base):
    """A unit of work routing hands out; kept so that waiting work survives a restart."""

    __tablename__ = "routing_tasks"
    __table_args__ = (Index(None, "state"), Index(None, "assignee_id", "assigned_at"))

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))          # lead / message / callback / call
    channel: Mapped[str] = mapped_column(String(20))
    queue: Mapped[str] = mapped_column(String(100))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    skills: Mapped[dict[str, Any]] = mapped_column(default=dict)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(20))        # pending / reserved / assigned / wrapping / completed / canceled
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    sla_deadline: Mapped[datetime | None]
    assigned_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class Reservation(Base):
    """One offer of a task to an agent and how it ended: the raw material of routing reports."""

    __tablename__ = "reservations"
    __table_args__ = (Index(None, "agent_id", "created_at"), Index(None, "created_at"))

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("routing_tasks.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(20))      # pending / accepted / rejected / timeout / rescinded
    decided_at: Mapped[datetime | None]
    explanation: Mapped[dict[str, Any]] = mapped_column(default=dict)


class AgentActivity(Base):
    """One presence or activity change of an agent; it lasts until the agent's next row."""

    __tablename__ = "agent_activity"
    __table_args__ = (Index(None, "user_id", "started_at"), Index(None, "started_at"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(20))           # available / break / ... / on_call / wrap_up / offline
    reason: Mapped[str | None] = mapped_column(String(60))
    source: Mapped[str] = mapped_column(String(20))          # console / routing / pbx / admin
    started_at: Mapped[datetime]
