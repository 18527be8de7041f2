"""clients: companies, contacts' tags and custom values, custom field definitions and directories

Revision ID: 0004_clients
Revises: 0003
Create Date: 2026-12-06 16:30:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from crm_store.models import Id, UtcDateTime

revision: str = '0004_clients'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'companies',
        sa.Column('id', Id, primary_key=True),
        sa.Column('name', sa.String(300), nullable=False),
        sa.Column('tax_id', sa.String(40), nullable=True),
        sa.Column('addresses', sa.JSON(), nullable=False),
        sa.Column('phones', sa.JSON(), nullable=False),
        sa.Column('emails', sa.JSON(), nullable=False),
        sa.Column('custom', sa.JSON(), nullable=False),
        sa.Column('owner_id', Id, sa.ForeignKey('users.id', name='fk_companies_owner_id_users'), nullable=True),
        sa.Column('team_id', Id, sa.ForeignKey('teams.id', name='fk_companies_team_id_teams'), nullable=True),
        sa.Column('search_text', sa.Text(), nullable=False),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.Column('updated_at', UtcDateTime(), nullable=False),
        sa.Column('deleted_at', UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name='pk_companies'),
    )
    op.create_index('ix_companies_tax_id', 'companies', ['tax_id'])
    op.create_index('ix_companies_team_id', 'companies', ['team_id'])
    op.create_table(
        'contact_companies',
        sa.Column('contact_id', Id, sa.ForeignKey('contacts.id', name='fk_contact_companies_contact_id_contacts'),
                  nullable=False),
        sa.Column('company_id', Id, sa.ForeignKey('companies.id', name='fk_contact_companies_company_id_companies'),
                  nullable=False),
        sa.Column('position', sa.String(200), nullable=True),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('contact_id', 'company_id', name='pk_contact_companies'),
    )
    op.create_index('ix_contact_companies_company_id', 'contact_companies', ['company_id'])
    op.create_table(
        'directories',
        sa.Column('id', Id, primary_key=True),
        sa.Column('name', sa.String(60), nullable=False),
        sa.Column('label', sa.String(200), nullable=False),
        sa.Column('label_ru', sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint('id', name='pk_directories'),
        sa.UniqueConstraint('name', name='uq_directories_name'),
    )
    op.create_table(
        'directory_values',
        sa.Column('id', Id, primary_key=True),
        sa.Column('directory_id', Id, sa.ForeignKey('directories.id', name='fk_directory_values_directory_id_directories'),
                  nullable=False),
        sa.Column('value', sa.String(300), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_directory_values'),
        sa.UniqueConstraint('directory_id', 'value', name='uq_directory_values_directory_id_value'),
    )
    op.create_table(
        'field_definitions',
        sa.Column('id', Id, primary_key=True),
        sa.Column('entity', sa.String(20), nullable=False),
        sa.Column('name', sa.String(60), nullable=False),
        sa.Column('label', sa.String(200), nullable=False),
        sa.Column('label_ru', sa.String(200), nullable=True),
        sa.Column('kind', sa.String(20), nullable=False),
        sa.Column('choices', sa.JSON(), nullable=False),
        sa.Column('directory_id', Id,
                  sa.ForeignKey('directories.id', name='fk_field_definitions_directory_id_directories'), nullable=True),
        sa.Column('currency', sa.String(3), nullable=True),
        sa.Column('required', sa.Boolean(), nullable=False),
        sa.Column('required_at', sa.JSON(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_field_definitions'),
        sa.UniqueConstraint('entity', 'name', name='uq_field_definitions_entity_name'),
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tags', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('custom', sa.JSON(), server_default='{}', nullable=False))
    # A plain ADD COLUMN, never a batch copy: copying `leads` on SQLite would drop its search triggers (0003).
    if op.get_bind().dialect.name == 'sqlite':
        op.execute("ALTER TABLE leads ADD COLUMN company_id INTEGER REFERENCES companies (id)")
    else:
        op.add_column('leads', sa.Column('company_id', Id, nullable=True))
        op.create_foreign_key('fk_leads_company_id_companies', 'leads', 'companies', ['company_id'], ['id'])
    op.create_index('ix_leads_company_id', 'leads', ['company_id'])


def downgrade() -> None:
    op.drop_index('ix_leads_company_id', 'leads')
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint('fk_leads_company_id_companies', 'leads', type_='foreignkey')
    op.drop_column('leads', 'company_id')    # SQLite >= 3.35 drops a column in place
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_column('custom')
        batch_op.drop_column('tags')
    op.drop_table('field_definitions')
    op.drop_table('directory_values')
    op.drop_table('directories')
    op.drop_index('ix_contact_companies_company_id', 'contact_companies')
    op.drop_table('contact_companies')
    op.drop_index('ix_companies_team_id', 'companies')
    op.drop_index('ix_companies_tax_id', 'companies')
    op.drop_table('companies')
