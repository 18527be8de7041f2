"""The Alembic history builds exactly the schema the models describe, on both engines."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from crm_store.models import Base
from crm_store.search import include_in_schema_compare
from crm_store.session import create_engine


async def test_no_difference_between_migrations_and_models(database_url):
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            diff = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True,
                                                                    "include_name": include_in_schema_compare}),
                                              Base.metadata))
    finally:
        await engine.dispose()
    assert diff == []
