"""imports: uploaded files imported in the background, and the rows they refused

Revision ID: 0005_imports
Revises: 0004_reports
Create Date: 2026-12-06 20:50:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005_imports'
down_revision: str | None = '0005_admin'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        'imports',
        sa.Column('id', Id, nullable=False),
        sa.Column('user_id', Id, nullable=True),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('filename', sa.String(length=300), nullable=False),
        sa.Column('path', sa.String(length=1000), nullable=False),
        sa.Column('sheet', sa.String(length=200), nullable=True),
        sa.Column('options', sa.JSON(), nullable=False),
        sa.Column('rows', sa.Integer(), nullable=True),
        sa.Column('cursor', sa.Integer(), nullable=False),
        sa.Column('counts', sa.JSON(), nullable=False),
        sa.Column('error', sa.String(length=500), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_imports_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_imports')),
    )
    op.create_index(op.f('ix_imports_state'), 'imports', ['state'])
    op.create_table(
        'import_rejects',
        sa.Column('id', Id, nullable=False),
        sa.Column('import_id', Id, nullable=False),
        sa.Column('row_number', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('values', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['import_id'], ['imports.id'], name=op.f('fk_import_rejects_import_id_imports')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_import_rejects')),
    )
    op.create_index(op.f('ix_import_rejects_import_id_row_number'), 'import_rejects', ['import_id', 'row_number'])


def downgrade() -> None:
    op.drop_index(op.f('ix_import_rejects_import_id_row_number'), table_name='import_rejects')
    op.drop_table('import_rejects')
    op.drop_index(op.f('ix_imports_state'), table_name='imports')
    op.drop_table('imports')
