"""SQLAlchemy models: who our clients are, what they asked, who works them, and who looked."""
from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
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
    # Due times are stored in UTC and shown (and "tomorrow 10:00" computed) in this IANA zone.
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    remind_via: Mapped[str | None] = mapped_column(String(20))      # email / telegram: when not signed in
    email: Mapped[str | None] = mapped_column(String(320))
    telegram_chat_id: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set by an admin's reset: the password the admin saw works once, to choose one only the user knows.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime]


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    display_name: Mapped[str | None] = mapped_column(Text)     # as the client gave it, any length
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    custom: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")   # custom field values
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
        # The board: one column's first page, newest activity first.
        Index(None, "stage_id", "last_activity_at"),
        Index(None, "pipeline_id", "created_at"),
        # The board's column totals read this index alone, never the rows: everything they filter on and sum.
        Index("ix_leads_board_totals", "pipeline_id", "stage_id", "currency", "amount", "assignee_id", "owner_id",
              "team_id", "channel", "deleted_at"),
        Index(None, "closed_at"),        # the manager report's won and lost of a period
        # The work lists' first page, newest activity first, read off the index instead of sorting every open
        # lead (a supervisor's list; an operator's own and the unassigned pool): migration 0006_bigdb.
        Index(None, "last_activity_at", "id"),
        Index(None, "assignee_id", "last_activity_at"),
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
    # When the current assignee got the lead: a queue's "assignee silent for N minutes" counts from here.
    assigned_at: Mapped[datetime | None]
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    outcome: Mapped[str | None] = mapped_column(String(20))
    lost_reason: Mapped[str | None] = mapped_column(String(500))
    handed_over_to: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_activity_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"), index=True)
    # Normalised name, identities and text for search (crm_store.search); its index is in migration 0002.
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The sales funnel (crm_store.pipelines): `status` follows the stage's kind and the stage follows the status.
    pipeline_id: Mapped[int | None] = mapped_column(ForeignKey("pipelines.id"))
    stage_id: Mapped[int | None] = mapped_column(ForeignKey("stages.id"))
    stage_entered_at: Mapped[datetime | None]
    amount: Mapped[int | None] = mapped_column(BigInteger)       # minor units (kopecks, cents) of `currency`
    currency: Mapped[str | None] = mapped_column(String(3))
    close_date: Mapped[date | None] = mapped_column(Date)        # when the deal is expected to close
    lost_reason_code: Mapped[str | None] = mapped_column(String(60))   # one of [pipelines] lost_reasons

    contact: Mapped[Contact] = relationship(lazy="raise")


class Company(Base):
    """An organisation clients belong to; seen by its owner and its team, like a lead."""

    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    tax_id: Mapped[str | None] = mapped_column(String(40), index=True)
    addresses: Mapped[list[str]] = mapped_column(JSON, default=list)
    phones: Mapped[list[str]] = mapped_column(JSON, default=list)       # E.164
    emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    custom: Mapped[dict[str, Any]] = mapped_column(default=dict)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None]


class ContactCompany(Base):
    """A contact works at (or for) a company; a contact may belong to several."""

    __tablename__ = "contact_companies"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), primary_key=True, index=True)
    position: Mapped[str | None] = mapped_column(String(200))        # their job there, as typed
    created_at: Mapped[datetime]


class Directory(Base):
    """An admin-managed list of values (cities, industries) a field links to instead of free text."""

    __tablename__ = "directories"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    label: Mapped[str] = mapped_column(String(200))
    label_ru: Mapped[str | None] = mapped_column(String(200))


class DirectoryValue(Base):
    __tablename__ = "directory_values"
    __table_args__ = (UniqueConstraint("directory_id", "value"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    directory_id: Mapped[int] = mapped_column(ForeignKey("directories.id"))
    value: Mapped[str] = mapped_column(String(300))
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)    # retired values stay readable on old records


class FieldDefinition(Base):
    """A custom field of leads, contacts or companies; values live in the entity's JSON, checked by crm_store.fields."""

    __tablename__ = "field_definitions"
    __table_args__ = (UniqueConstraint("entity", "name"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    entity: Mapped[str] = mapped_column(String(20))       # lead / contact / company
    name: Mapped[str] = mapped_column(String(60))
    label: Mapped[str] = mapped_column(String(200))
    label_ru: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))         # text / number / money / date / choice / multi_choice / directory
    choices: Mapped[list[str]] = mapped_column(JSON, default=list)
    directory_id: Mapped[int | None] = mapped_column(ForeignKey("directories.id"))
    currency: Mapped[str | None] = mapped_column(String(3))   # money: the default currency
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    required_at: Mapped[list[str]] = mapped_column(JSON, default=list)   # lead statuses that need it filled
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Interaction(Base):
    """One inbound or outbound event on a lead's timeline; `(channel, event_id)` makes it happen once."""

    __tablename__ = "interactions"
    __table_args__ = (
        UniqueConstraint("channel", "event_id"),
        Index(None, "channel", "thread_ref"),
        Index(None, "lead_id", "created_at"),
        Index(None, "created_at"),       # reports read a period of every channel
        Index(None, "lead_id", "direction", "created_at"),     # a lead's first answer: one probe (the report)
        Index(None, "author_id", "created_at", "direction", "channel"),   # answers per manager, index only
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
    # The manager report reads a period's tasks per assignee from this index alone (no table lookups).
    __table_args__ = (Index(None, "state"), Index("ix_routing_tasks_report", "assignee_id", "assigned_at", "channel",
                                                  "created_at", "lead_id", "queue"))

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
    # The manager report counts a period's offers per agent from this index alone.
    __table_args__ = (Index("ix_reservations_report", "agent_id", "created_at", "outcome", "decided_at", "task_id"),
                      Index(None, "created_at"))

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("routing_tasks.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(20))      # pending / accepted / rejected / timeout / rescinded
    decided_at: Mapped[datetime | None]
    explanation: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Task(Base):
    """Something promised to a client: a call back, a meeting, a message, with a due time and a person.

    A missed call's callback is one of these (kind call, origin callback) beside its routing task; reaching
    the client on any channel closes the open call, message and e-mail tasks of that client."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index(None, "assignee_id", "state", "due_at"),
        Index(None, "state", "reminded_at", "due_at"),       # the reminder timer's next due
        Index(None, "contact_id", "state"),
        # A page of leads' open tasks (the work list, the board): without it SQLite reads every open task.
        Index(None, "lead_id", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    kind: Mapped[str] = mapped_column(String(20))            # call / meeting / email / message / other
    origin: Mapped[str] = mapped_column(String(20), default="manual")    # manual / callback / forgotten
    state: Mapped[str] = mapped_column(String(20), default="open")       # open / done / canceled
    due_at: Mapped[datetime]
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))   # None: made by the system
    note: Mapped[str] = mapped_column(Text, default="")
    result: Mapped[str | None] = mapped_column(Text)
    closed_by: Mapped[str | None] = mapped_column(String(40))     # "user", or "reached:<channel>"
    routing_task_id: Mapped[str | None] = mapped_column(String(100), index=True)
    reminded_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    done_at: Mapped[datetime | None]


class ReplyTemplate(Base):
    """A quick reply: shared (no owner) or one person's; `texts` holds the default and per-channel variants."""

    __tablename__ = "reply_templates"
    __table_args__ = (Index(None, "owner_id", "code"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    code: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    texts: Mapped[dict[str, Any]] = mapped_column()       # {"default": "...", "email": "...", "telegram": "..."}
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LeadFlag(Base):
    """Per-lead marks the response clocks keep, so each automatic act happens once."""

    __tablename__ = "lead_flags"
    __table_args__ = (UniqueConstraint("lead_id", "name", "ref"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    name: Mapped[str] = mapped_column(String(40))      # auto_answer / reassigned / forgotten
    ref: Mapped[str] = mapped_column(String(100))      # what it was for (a thread, an inbound interaction)
    at: Mapped[datetime]
class Pipeline(Base):
    """A sales funnel (sales, wholesale, support): an ordered set of stages leads go through."""

    __tablename__ = "pipelines"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)      # what settings name: pipeline = "wholesale"
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]


class Stage(Base):
    """One column of a funnel; retired stages stay so that their history keeps its names."""

    __tablename__ = "stages"
    __table_args__ = (Index(None, "pipeline_id", "position"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))                 # open / won / lost / closed
    position: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str | None] = mapped_column(String(20))       # the fixed status this stage stands for, if any
    required_fields: Mapped[list[str]] = mapped_column(JSON, default=list)   # lead fields filled before entering
    deadline_hours: Mapped[float | None] = mapped_column(Float)  # a lead should leave the stage within this
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class StageChange(Base):
    """A lead entering a stage: what time in stage and stage-to-stage conversion are computed from."""

    __tablename__ = "stage_changes"
    __table_args__ = (Index(None, "lead_id", "at"), Index(None, "pipeline_id", "at"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id"))
    from_stage_id: Mapped[int | None] = mapped_column(ForeignKey("stages.id"))
    to_stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id"))
    at: Mapped[datetime]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


# Keeps the stage in step with the status wherever a lead's status is set (imported last: it uses the models).
from crm_store import stage_sync  # noqa: E402, F401
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


class ImportJob(Base):
    """One uploaded file being imported: its choices, how far it got (the cursor commits with each batch), its counts."""

    __tablename__ = "imports"
    __table_args__ = (Index(None, "state"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))       # None: the command line
    state: Mapped[str] = mapped_column(String(20))           # uploaded / running / cancelling / cancelled / done / failed
    filename: Mapped[str] = mapped_column(String(300))       # as uploaded, for people
    path: Mapped[str] = mapped_column(String(1000))          # where it is kept under the data folder
    sheet: Mapped[str | None] = mapped_column(String(200))
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)    # mapping, on_match, entity, split_name
    rows: Mapped[int | None] = mapped_column(Integer)        # data rows in the file, once counted
    cursor: Mapped[int] = mapped_column(Integer, default=0)  # data rows committed so far
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)     # created / joined / skipped / invalid / merges
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class ImportReject(Base):
    """A row an import refused, with why: the report's downloadable file."""

    __tablename__ = "import_rejects"
    __table_args__ = (Index(None, "import_id", "row_number"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id"))
    row_number: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(500))
    values: Mapped[list[str]] = mapped_column(JSON, default=list)


class CallFact(Base):
    """One person's part in one ended call, written with the call's record: the manager report sums these
    narrow rows instead of reading every record's JSON. Inbound: one row per operator whose phone rang (or
    who answered); outbound: one row for the operator who placed it."""

    __tablename__ = "call_facts"
    __table_args__ = (Index(None, "user_id", "at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    interaction_id: Mapped[int] = mapped_column(ForeignKey("interactions.id"), index=True)
    user_id: Mapped[int] = mapped_column(Id)      # no foreign key: a record may name a user since removed
    at: Mapped[datetime]                          # the call's interaction's created_at: the period it counts in
    direction: Mapped[str] = mapped_column(String(10))         # inbound / outbound
    queue: Mapped[str | None] = mapped_column(String(100))
    answered: Mapped[bool] = mapped_column(Boolean)
    talk_seconds: Mapped[float] = mapped_column(Float)
