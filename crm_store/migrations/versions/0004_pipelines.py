"""pipelines: funnels with ordered stages, the lead's stage, amount and close date, and the stage history

Today's fixed statuses become the stages of a default "Sales" pipeline: new, assigned and in progress
are its open stages, won and lost its won and lost stages. A closed lead (resolved, handed over)
is neither a sale nor a loss: it gets a stage of its own kind, "closed", so that conversion
(won / all) counts it as not won without inventing a lost reason for it.

Revision ID: 0004_pipelines
Revises: 0003
Create Date: 2026-12-06 16:30:00
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from crm_store.models import UtcDateTime

revision: str = '0004_pipelines'
down_revision: str | None = '0004_tasks'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
DEFAULT_STAGES = (("New", "open", "new"), ("Assigned", "open", "assigned"), ("In progress", "open", "in_progress"),
                  ("Won", "won", "won"), ("Lost", "lost", "lost"), ("Closed", "closed", "closed"))


def upgrade() -> None:
    op.create_table(
        'pipelines',
        sa.Column('id', Id, nullable=False),
        sa.Column('key', sa.String(length=60), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pipelines')),
        sa.UniqueConstraint('key', name=op.f('uq_pipelines_key')),
    )
    op.create_table(
        'stages',
        sa.Column('id', Id, nullable=False),
        sa.Column('pipeline_id', Id, nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=True),
        sa.Column('required_fields', sa.JSON(), nullable=False),
        sa.Column('deadline_hours', sa.Float(), nullable=True),
        sa.Column('retired', sa.Boolean(), nullable=False),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['pipeline_id'], ['pipelines.id'], name=op.f('fk_stages_pipeline_id_pipelines')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stages')),
    )
    op.create_index(op.f('ix_stages_pipeline_id_position'), 'stages', ['pipeline_id', 'position'])
    op.create_table(
        'stage_changes',
        sa.Column('id', Id, nullable=False),
        sa.Column('lead_id', Id, nullable=False),
        sa.Column('pipeline_id', Id, nullable=False),
        sa.Column('from_stage_id', Id, nullable=True),
        sa.Column('to_stage_id', Id, nullable=False),
        sa.Column('at', UtcDateTime(), nullable=False),
        sa.Column('user_id', Id, nullable=True),
        sa.ForeignKeyConstraint(['lead_id'], ['leads.id'], name=op.f('fk_stage_changes_lead_id_leads')),
        sa.ForeignKeyConstraint(['pipeline_id'], ['pipelines.id'],
                                name=op.f('fk_stage_changes_pipeline_id_pipelines')),
        sa.ForeignKeyConstraint(['from_stage_id'], ['stages.id'], name=op.f('fk_stage_changes_from_stage_id_stages')),
        sa.ForeignKeyConstraint(['to_stage_id'], ['stages.id'], name=op.f('fk_stage_changes_to_stage_id_stages')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_stage_changes_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_changes')),
    )
    op.create_index(op.f('ix_stage_changes_lead_id_at'), 'stage_changes', ['lead_id', 'at'])
    op.create_index(op.f('ix_stage_changes_pipeline_id_at'), 'stage_changes', ['pipeline_id', 'at'])

    for name, target in (('pipeline_id', 'pipelines'), ('stage_id', 'stages')):
        fk = f'fk_leads_{name}_{target}'
        if op.get_bind().dialect.name == 'sqlite':
            # In place (ALTER TABLE ADD COLUMN ... REFERENCES), not a batch rebuild that would drop 0003's triggers.
            op.execute(f'ALTER TABLE leads ADD COLUMN {name} INTEGER CONSTRAINT {fk} REFERENCES {target} (id)')
        else:
            op.add_column('leads', sa.Column(name, Id, nullable=True))
            op.create_foreign_key(fk, 'leads', target, [name], ['id'])
    op.add_column('leads', sa.Column('stage_entered_at', UtcDateTime(), nullable=True))
    op.add_column('leads', sa.Column('amount', sa.BigInteger(), nullable=True))
    op.add_column('leads', sa.Column('currency', sa.String(length=3), nullable=True))
    op.add_column('leads', sa.Column('close_date', sa.Date(), nullable=True))
    op.add_column('leads', sa.Column('lost_reason_code', sa.String(length=60), nullable=True))
    op.create_index(op.f('ix_leads_stage_id_last_activity_at'), 'leads', ['stage_id', 'last_activity_at'])
    op.create_index(op.f('ix_leads_pipeline_id_created_at'), 'leads', ['pipeline_id', 'created_at'])
    op.create_index('ix_leads_board_totals', 'leads', ['pipeline_id', 'stage_id', 'currency', 'amount', 'assignee_id',
                                                       'owner_id', 'team_id', 'channel', 'deleted_at'])
    _seed_sales()


def _seed_sales() -> None:
    """The default pipeline, every lead on the stage its status names, and when it got there."""
    bind = op.get_bind()
    now = datetime.now(UTC)
    pipelines = sa.table('pipelines', sa.column('id', Id), sa.column('key', sa.String),
                         sa.column('name', sa.String), sa.column('position', sa.Integer),
                         sa.column('created_at', UtcDateTime()))
    stages = sa.table('stages', sa.column('id', Id), sa.column('pipeline_id', Id), sa.column('name', sa.String),
                      sa.column('kind', sa.String), sa.column('position', sa.Integer), sa.column('status', sa.String),
                      sa.column('required_fields', sa.JSON), sa.column('deadline_hours', sa.Float),
                      sa.column('retired', sa.Boolean), sa.column('created_at', UtcDateTime()))
    bind.execute(pipelines.insert().values(key='sales', name='Sales', position=0, created_at=now))
    pipeline_id = bind.scalar(sa.select(pipelines.c.id).where(pipelines.c.key == 'sales'))
    bind.execute(stages.insert(), [
        {"pipeline_id": pipeline_id, "name": name, "kind": kind, "position": i, "status": status,
         "required_fields": [], "deadline_hours": None, "retired": False, "created_at": now}
        for i, (name, kind, status) in enumerate(DEFAULT_STAGES)])
    by_status = dict(bind.execute(sa.select(stages.c.status, stages.c.id).where(stages.c.pipeline_id == pipeline_id))
                     .all())
    leads = sa.table('leads', sa.column('pipeline_id', Id), sa.column('stage_id', Id), sa.column('status', sa.String))
    case = sa.case(*((leads.c.status == status, stage_id) for status, stage_id in by_status.items()),
                   else_=by_status['new'])
    bind.execute(sa.update(leads).values(pipeline_id=pipeline_id, stage_id=case))
    # Every lead entered "New" when it came; one that is elsewhere now entered that stage when it closed or
    # was last updated (the best the old rows know).
    new_id = by_status['new']
    op.execute(f"INSERT INTO stage_changes (lead_id, pipeline_id, from_stage_id, to_stage_id, at, user_id) "
               f"SELECT id, {pipeline_id}, NULL, {new_id}, created_at, NULL FROM leads")
    op.execute(f"INSERT INTO stage_changes (lead_id, pipeline_id, from_stage_id, to_stage_id, at, user_id) "
               f"SELECT id, {pipeline_id}, {new_id}, stage_id, coalesce(closed_at, updated_at), NULL FROM leads "
               f"WHERE stage_id <> {new_id}")
    op.execute("UPDATE leads SET stage_entered_at = (SELECT max(at) FROM stage_changes "
               "WHERE stage_changes.lead_id = leads.id)")


def downgrade() -> None:
    op.drop_index('ix_leads_board_totals', table_name='leads')
    op.drop_index(op.f('ix_leads_pipeline_id_created_at'), table_name='leads')
    op.drop_index(op.f('ix_leads_stage_id_last_activity_at'), table_name='leads')
    with op.batch_alter_table('leads', schema=None) as batch_op:
        for name in ('lost_reason_code', 'close_date', 'currency', 'amount', 'stage_entered_at', 'stage_id',
                     'pipeline_id'):
            batch_op.drop_column(name)
    op.drop_table('stage_changes')
    op.drop_table('stages')
    op.drop_table('pipelines')
