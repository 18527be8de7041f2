"""long names and subjects: client names and subjects kept whole (TEXT) on every engine

A mail's From name or subject can be any length; VARCHAR(200)/(500) made PostgreSQL refuse such
mail forever while SQLite, which ignores lengths, stored it.

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WIDENED = (("contacts", "display_name", 200), ("leads", "subject", 500), ("interactions", "subject", 500))


def upgrade() -> None:
    for table, column, length in _WIDENED:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.Text(), existing_type=sa.String(length), existing_nullable=True)


def downgrade() -> None:
    for table, column, length in _WIDENED:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(column, type_=sa.String(length), existing_type=sa.Text(), existing_nullable=True,
                               postgresql_using=f"left({column}, {length})")
