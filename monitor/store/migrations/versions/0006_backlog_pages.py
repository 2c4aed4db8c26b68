"""paged sources' backlog depth

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 00:30:00.000000

How deep a paged source's last poll got when it was cut off with new mentions
still unread (source_state.backlog_pages): at max_pages with something new on its
last page, or by a later page that failed. The next poll pages on past it instead
of stopping at the known first page, so the older new mentions are not lost. None
when the source is caught up. Adding a nullable column rewrites no rows on either
backend.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('source_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('backlog_pages', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('source_state', schema=None) as batch_op:
        batch_op.drop_column('backlog_pages')
