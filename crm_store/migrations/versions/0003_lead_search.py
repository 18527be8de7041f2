"""lead search: a normalised search text per lead, with a substring index on each engine

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 07:30:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

from crm_store import search

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS = search.SQLITE_FTS
BACKFILL_CHUNK = 500


def upgrade() -> None:
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.add_column(sa.Column('search_text', sa.Text(), server_default='', nullable=False))
    bind = op.get_bind()
    session = Session(bind=bind)
    contact_ids = [row[0] for row in bind.execute(sa.text("SELECT DISTINCT contact_id FROM leads ORDER BY 1"))]
    for at in range(0, len(contact_ids), BACKFILL_CHUNK):
        search.refresh(session, contact_ids[at:at + BACKFILL_CHUNK], companies=False)
    session.flush()
    if bind.dialect.name == 'sqlite':
        # External-content FTS5 over leads.search_text; triggers keep it in step with the column.
        op.execute(f"CREATE VIRTUAL TABLE {FTS} USING fts5(search_text, content='leads', content_rowid='id', "
                   "tokenize='trigram')")
        op.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')")
        op.execute(f"CREATE TRIGGER {FTS}_ai AFTER INSERT ON leads BEGIN "
                   f"INSERT INTO {FTS}(rowid, search_text) VALUES (new.id, new.search_text); END")
        op.execute(f"CREATE TRIGGER {FTS}_ad AFTER DELETE ON leads BEGIN "
                   f"INSERT INTO {FTS}({FTS}, rowid, search_text) VALUES ('delete', old.id, old.search_text); END")
        op.execute(f"CREATE TRIGGER {FTS}_au AFTER UPDATE OF search_text ON leads BEGIN "
                   f"INSERT INTO {FTS}({FTS}, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
                   f"INSERT INTO {FTS}(rowid, search_text) VALUES (new.id, new.search_text); END")
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(f"CREATE INDEX {search.PG_TRGM_INDEX} ON leads USING gin (search_text gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        for suffix in ('_ai', '_ad', '_au'):
            op.execute(f"DROP TRIGGER IF EXISTS {FTS}{suffix}")
        op.execute(f"DROP TABLE IF EXISTS {FTS}")
    else:
        op.execute(f"DROP INDEX IF EXISTS {search.PG_TRGM_INDEX}")
    with op.batch_alter_table('leads', schema=None) as batch_op:
        batch_op.drop_column('search_text')
