"""leads_search (SQLite): the trigram index without positions, rebuilt from leads.search_text

Every new lead's search text goes into the FTS5 trigram index in the intake's transaction. With the
default `detail=full` FTS5 keeps the position of every trigram of every text, which the search no
longer uses (it asks trigrams with AND and checks the whole needle on the row: crm_store.search_terms),
and `columnsize` keeps each text's length in one more B-tree (`leads_search_docsize`) for a ranking
nobody asks for. `detail=none, columnsize=0` writes and merges rowid lists only. The table is recreated
and rebuilt from `leads.search_text` (the column is the index's external content: nothing is lost); the
triggers are the same as 0003's. PostgreSQL's pg_trgm GIN index is not touched.

Revision ID: 0007_search_index
Revises: 0006_bigdb
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0007_search_index'
down_revision: str | None = '0006_bigdb'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS = "leads_search"
LEAN = "detail=none, columnsize=0"


def upgrade() -> None:
    _recreate(LEAN)


def downgrade() -> None:
    _recreate("")


def _recreate(options: str) -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    for suffix in ('_ai', '_ad', '_au'):
        op.execute(f"DROP TRIGGER IF EXISTS {FTS}{suffix}")
    op.execute(f"DROP TABLE IF EXISTS {FTS}")
    extra = f", {options}" if options else ""
    op.execute(f"CREATE VIRTUAL TABLE {FTS} USING fts5(search_text, content='leads', content_rowid='id', "
               f"tokenize='trigram'{extra})")
    op.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')")
    op.execute(f"CREATE TRIGGER {FTS}_ai AFTER INSERT ON leads BEGIN "
               f"INSERT INTO {FTS}(rowid, search_text) VALUES (new.id, new.search_text); END")
    op.execute(f"CREATE TRIGGER {FTS}_ad AFTER DELETE ON leads BEGIN "
               f"INSERT INTO {FTS}({FTS}, rowid, search_text) VALUES ('delete', old.id, old.search_text); END")
    op.execute(f"CREATE TRIGGER {FTS}_au AFTER UPDATE OF search_text ON leads BEGIN "
               f"INSERT INTO {FTS}({FTS}, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
               f"INSERT INTO {FTS}(rowid, search_text) VALUES (new.id, new.search_text); END")
