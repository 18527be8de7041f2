"""reports: each ended call's facts per person (call_facts, filled from the existing call records), and
indexes that let the manager report read a period without parsing JSON

Revision ID: 0005_daily
Revises: 0004_reports
Create Date: 2026-12-06 20:50:00
"""
from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_store.call_facts import rows_of

revision: str = '0005_daily'
down_revision: str | None = '0005_imports'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
BATCH = 5000


def upgrade() -> None:
    op.create_table(
        'call_facts',
        sa.Column('id', Id, nullable=False),
        sa.Column('interaction_id', Id, nullable=False),
        sa.Column('user_id', Id, nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('direction', sa.String(length=10), nullable=False),
        sa.Column('queue', sa.String(length=100), nullable=True),
        sa.Column('answered', sa.Boolean(), nullable=False),
        sa.Column('talk_seconds', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['interaction_id'], ['interactions.id'],
                                name=op.f('fk_call_facts_interaction_id_interactions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_call_facts')),
    )
    op.create_index(op.f('ix_call_facts_interaction_id'), 'call_facts', ['interaction_id'])
    op.create_index(op.f('ix_call_facts_user_id_at'), 'call_facts', ['user_id', 'at'])
    op.create_index(op.f('ix_interactions_lead_id_direction_created_at'), 'interactions',
                    ['lead_id', 'direction', 'created_at'])
    op.create_index(op.f('ix_interactions_author_id_created_at_direction_channel'), 'interactions',
                    ['author_id', 'created_at', 'direction', 'channel'])
    # Wider versions of two indexes of 0004_reports: the report's reads need no table lookups.
    op.drop_index('ix_routing_tasks_assignee_id_assigned_at', table_name='routing_tasks')
    op.create_index('ix_routing_tasks_report', 'routing_tasks',
                    ['assignee_id', 'assigned_at', 'channel', 'created_at', 'lead_id', 'queue'])
    op.drop_index('ix_reservations_agent_id_created_at', table_name='reservations')
    op.create_index('ix_reservations_report', 'reservations',
                    ['agent_id', 'created_at', 'outcome', 'decided_at', 'task_id'])
    _backfill()


def _backfill() -> None:
    """The facts of every call already recorded, by the same rules the store applies to new ones."""
    bind = op.get_bind()
    interactions = sa.table('interactions', sa.column('id', Id), sa.column('channel', sa.String),
                            sa.column('direction', sa.String), sa.column('author_id', Id),
                            sa.column('attributes', sa.Text), sa.column('created_at', sa.DateTime(timezone=True)))
    facts = sa.table('call_facts', sa.column('interaction_id', Id), sa.column('user_id', Id),
                     sa.column('at', sa.DateTime(timezone=True)), sa.column('direction', sa.String),
                     sa.column('queue', sa.String), sa.column('answered', sa.Boolean),
                     sa.column('talk_seconds', sa.Float))
    after = 0
    while True:
        calls = bind.execute(sa.select(interactions.c.id, interactions.c.created_at, interactions.c.direction,
                                       interactions.c.author_id, interactions.c.attributes)
                             .where(interactions.c.channel == 'voice', interactions.c.id > after)
                             .order_by(interactions.c.id).limit(BATCH)).all()
        if not calls:
            return
        rows = []
        for call_id, at, direction, author_id, attributes in calls:
            data = json.loads(attributes) if isinstance(attributes, str) else attributes or {}
            rows += rows_of(call_id, at, direction, author_id, data)
        if rows:
            bind.execute(facts.insert(), rows)
        after = calls[-1][0]


def downgrade() -> None:
    op.drop_index('ix_reservations_report', table_name='reservations')
    op.create_index('ix_reservations_agent_id_created_at', 'reservations', ['agent_id', 'created_at'])
    op.drop_index('ix_routing_tasks_report', table_name='routing_tasks')
    op.create_index('ix_routing_tasks_assignee_id_assigned_at', 'routing_tasks', ['assignee_id', 'assigned_at'])
    op.drop_index(op.f('ix_interactions_author_id_created_at_direction_channel'), table_name='interactions')
    op.drop_index(op.f('ix_interactions_lead_id_direction_created_at'), table_name='interactions')
    op.drop_index(op.f('ix_call_facts_user_id_at'), table_name='call_facts')
    op.drop_index(op.f('ix_call_facts_interaction_id'), table_name='call_facts')
    op.drop_table('call_facts')
