"""SQLAlchemy models: who our clients are, what they asked, who works them, and who looked.

One module per part of the domain; every model is importable from here, and importing this package
registers them all on `Base.metadata` (what alembic and the tests compare the migrations with)."""
from __future__ import annotations

from crm_store.models.base import Base, Id, NAMING, UtcDateTime
from crm_store.models.people import ApiSession, Company, Contact, ContactCompany, Identity, Team, User
from crm_store.models.leads import AuditEntry, ContactMerge, Interaction, Lead, LeadFlag, MergeSuggestion
from crm_store.models.funnel import Directory, DirectoryValue, FieldDefinition, Pipeline, Stage, StageChange
from crm_store.models.work import (
    AgentActivity,
    CallFact,
    ImportJob,
    ImportReject,
    ReplyTemplate,
    Reservation,
    RoutingTask,
    Task,
)

# Keeps the stage in step with the status wherever a lead's status is set (imported last: it uses the models).
from crm_store import stage_sync  # noqa: E402, F401

__all__ = [
    "AgentActivity", "ApiSession", "AuditEntry", "Base", "CallFact", "Company", "Contact", "ContactCompany",
    "ContactMerge", "Directory", "DirectoryValue", "FieldDefinition", "Id", "Identity", "ImportJob",
    "ImportReject", "Interaction", "Lead", "LeadFlag", "MergeSuggestion", "NAMING", "Pipeline", "ReplyTemplate",
    "Reservation", "RoutingTask", "Stage", "StageChange", "Task", "Team", "User", "UtcDateTime",
]
