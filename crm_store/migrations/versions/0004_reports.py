"""reports: every agent's presence changes, and indexes for reading a period

Revision ID: 0004_reports
Revises: 0003
Create Date: 2026-12-06 16:20:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004_reports'
down_revision: str | None = '0004_pipelines'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        'agent_activity',
        sa.Column('id', Id, nullable=False),
        sa.Column('user_id', Id, nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('reason', sa.String(length=60), nullable=True),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_agent_activity_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_activity')),
    )
    op.create_index(op.f('ix_agent_activity_user_id_started_at'), 'agent_activity', ['user_id', 'started_at'])
    op.create_index(op.f('ix_agent_activity_started_at'), 'agent_activity', ['started_at'])
    op.create_index(op.f('ix_interactions_created_at'), 'interactions', ['created_at'])
    op.create_index(op.f('ix_leads_closed_at'), 'leads', ['closed_at'])
    op.create_index(op.f('ix_reservations_created_at'), 'reservations', ['created_at'])
    op.create_index(op.f('ix_routing_tasks_assignee_id_assigned_at'), 'routing_tasks', ['assignee_id', 'assigned_at'])


def downgrade() -> None:
    op.drop_index(op.f('ix_routing_tasks_assignee_id_assigned_at'), table_name='routing_tasks')
    op.drop_index(op.f('ix_reservations_created_at'), table_name='reservations')
    op.drop_index(op.f('ix_leads_closed_at'), table_name='leads')
    op.drop_index(op.f('ix_interactions_created_at'), table_name='interactions')
    op.drop_index(op.f('ix_agent_activity_started_at'), table_name='agent_activity')
    op.drop_index(op.f('ix_agent_activity_user_id_started_at'), table_name='agent_activity')
    op.drop_table('agent_activity')
