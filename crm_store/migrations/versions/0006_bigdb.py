"""leads: the work list's first page read newest-first from an index, not sorted from every open lead

At 1,000,000 leads the console's lists (a supervisor's open leads, an operator's own, the pool nobody
has taken) read every matching lead and sorted them to show 50. `last_activity_at` (with `id`, the
list's tie-break) lets the newest page be read straight off the index; `assignee_id, last_activity_at`
does the same for one person's list and for the unassigned pool (assignee NULL). The open tasks of a
page of leads are found by `tasks (lead_id, state, due_at)`: with `lead_id` alone SQLite, which has no
statistics, preferred the `state` index and read every open task.

Revision ID: 0006_bigdb
Revises: 0005_tasks
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0006_bigdb'
down_revision: str | None = '0005_tasks'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f('ix_leads_last_activity_at_id'), 'leads', ['last_activity_at', 'id'])
    op.create_index(op.f('ix_leads_assignee_id_last_activity_at'), 'leads', ['assignee_id', 'last_activity_at'])
    op.create_index(op.f('ix_tasks_lead_id_state_due_at'), 'tasks', ['lead_id', 'state', 'due_at'])


def downgrade() -> None:
    op.drop_index(op.f('ix_tasks_lead_id_state_due_at'), table_name='tasks')
    op.drop_index(op.f('ix_leads_assignee_id_last_activity_at'), table_name='leads')
    op.drop_index(op.f('ix_leads_last_activity_at_id'), table_name='leads')
