"""What clients asked and what became of it: leads, their timelines, merges, flags and the audit trail."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_store.models.base import Base, Id

if TYPE_CHECKING:
    from crm_store.models.people import Contact


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


class LeadFlag(Base):
    """Per-lead marks the response clocks keep, so each automatic act happens once."""

    __tablename__ = "lead_flags"
    __table_args__ = (UniqueConstraint("lead_id", "name", "ref"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    name: Mapped[str] = mapped_column(String(40))      # auto_answer / reassigned / forgotten
    ref: Mapped[str] = mapped_column(String(100))      # what it was for (a thread, an inbound interaction)
    at: Mapped[datetime]
