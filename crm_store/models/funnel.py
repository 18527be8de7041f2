"""How leads are described and staged: pipelines and their stages, custom fields and their directories."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm_store.models.base import Base, Id


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

