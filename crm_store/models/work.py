"""The work around leads: routing tasks and reservations, follow-up tasks, reply templates, agent activity,
call facts and imports."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm_store.models.base import Base, Id


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
