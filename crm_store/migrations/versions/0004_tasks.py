"""tasks: follow-ups with due times and reminders, quick replies, per-user time zones and reminder channels

Revision ID: 0004_tasks
Revises: 0003
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004_tasks'
down_revision: str | None = '0004_clients'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('time_zone', sa.String(64), server_default='UTC', nullable=False))
        batch.add_column(sa.Column('remind_via', sa.String(20), nullable=True))
        batch.add_column(sa.Column('email', sa.String(320), nullable=True))
        batch.add_column(sa.Column('telegram_chat_id', sa.String(64), nullable=True))
    op.create_table(
        'tasks',
        sa.Column('id', Id, primary_key=True),
        sa.Column('lead_id', Id, sa.ForeignKey('leads.id', name='fk_tasks_lead_id_leads'), nullable=True),
        sa.Column('contact_id', Id, sa.ForeignKey('contacts.id', name='fk_tasks_contact_id_contacts'), nullable=False),
        sa.Column('kind', sa.String(20), nullable=False),
        sa.Column('origin', sa.String(20), nullable=False),
        sa.Column('state', sa.String(20), nullable=False),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('assignee_id', Id, sa.ForeignKey('users.id', name='fk_tasks_assignee_id_users'), nullable=True),
        sa.Column('created_by', Id, sa.ForeignKey('users.id', name='fk_tasks_created_by_users'), nullable=True),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('result', sa.Text(), nullable=True),
        sa.Column('closed_by', sa.String(40), nullable=True),
        sa.Column('routing_task_id', sa.String(100), nullable=True),
        sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name='pk_tasks'),
    )
    op.create_index('ix_tasks_lead_id', 'tasks', ['lead_id'])
    op.create_index('ix_tasks_routing_task_id', 'tasks', ['routing_task_id'])
    op.create_index('ix_tasks_assignee_id_state_due_at', 'tasks', ['assignee_id', 'state', 'due_at'])
    op.create_index('ix_tasks_state_reminded_at_due_at', 'tasks', ['state', 'reminded_at', 'due_at'])
    op.create_index('ix_tasks_contact_id_state', 'tasks', ['contact_id', 'state'])
    op.create_table(
        'reply_templates',
        sa.Column('id', Id, primary_key=True),
        sa.Column('owner_id', Id, sa.ForeignKey('users.id', name='fk_reply_templates_owner_id_users'), nullable=True),
        sa.Column('code', sa.String(40), nullable=False),
        sa.Column('title', sa.String(200), nullable=False),
        sa.Column('texts', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_reply_templates'),
    )
    op.create_index('ix_reply_templates_owner_id_code', 'reply_templates', ['owner_id', 'code'])
    op.create_table(
        'lead_flags',
        sa.Column('id', Id, primary_key=True),
        sa.Column('lead_id', Id, sa.ForeignKey('leads.id', name='fk_lead_flags_lead_id_leads'), nullable=False),
        sa.Column('name', sa.String(40), nullable=False),
        sa.Column('ref', sa.String(100), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_lead_flags'),
        sa.UniqueConstraint('lead_id', 'name', 'ref', name='uq_lead_flags_lead_id_name_ref'),
    )


def downgrade() -> None:
    op.drop_table('lead_flags')
    op.drop_index('ix_reply_templates_owner_id_code', 'reply_templates')
    op.drop_table('reply_templates')
    for name in ('ix_tasks_contact_id_state', 'ix_tasks_state_reminded_at_due_at', 'ix_tasks_assignee_id_state_due_at',
                 'ix_tasks_routing_task_id', 'ix_tasks_lead_id'):
        op.drop_index(name, 'tasks')
    op.drop_table('tasks')
    with op.batch_alter_table('users') as batch:
        for column in ('telegram_chat_id', 'email', 'remind_via', 'time_zone'):
            batch.drop_column(column)
