"""routing tasks and reservations

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 03:26:59.284903
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    
    op.create_table('routing_tasks',
    sa.Column('id', sa.String(length=100), nullable=False),
    sa.Column('lead_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('queue', sa.String(length=100), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('skills', sa.JSON(), nullable=False),
    sa.Column('owner_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('assignee_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sla_deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_routing_tasks_assignee_id_users')),
    sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_routing_tasks_lead_id_leads')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_routing_tasks_owner_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_tasks'))
    )
    with op.batch_alter_table('routing_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routing_tasks_lead_id'), ['lead_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_routing_tasks_state'), ['state'], unique=False)

    op.create_table('reservations',
    sa.Column('id', sa.String(length=100), nullable=False),
    sa.Column('task_id', sa.String(length=100), nullable=False),
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('explanation', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['users.id'], name=op.f('fk_reservations_agent_id_users')),
    sa.ForeignKeyConstraint(['task_id'], ['routing_tasks.id'], name=op.f('fk_reservations_task_id_routing_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reservations'))
    )
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reservations_agent_id_created_at'), ['agent_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_reservations_task_id'), ['task_id'], unique=False)

    


def downgrade() -> None:
    
    with op.batch_alter_table('reservations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reservations_task_id'))
        batch_op.drop_index(batch_op.f('ix_reservations_agent_id_created_at'))

    op.drop_table('reservations')
    with op.batch_alter_table('routing_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_routing_tasks_state'))
        batch_op.drop_index(batch_op.f('ix_routing_tasks_lead_id'))

    op.drop_table('routing_tasks')
    
