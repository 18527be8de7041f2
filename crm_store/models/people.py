"""Who: the team, its users and sessions, the clients (contacts), how to reach them, their companies."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_store.models.base import Base, Id


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


class ApiSession(Base):
    """A login: the token itself is never stored, only its SHA-256."""

    __tablename__ = "api_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
