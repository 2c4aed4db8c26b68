"""removal misses in the store

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 23:30:00.000000

A mention's first miss by a complete listing of its source since it was last seen
(mention.unlisted_at): what removal detection counted in the process's memory, so
that after a restart a source's first listing removed nothing, and two daemons on
one store each counted their own. No index: it is read with the source's mentions
by publication time (ix_mention_source_published) and written by the sighting's
update, which stays HOT on PostgreSQL. Adding a nullable column rewrites no rows on
either backend.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.store.models


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('mention', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unlisted_at', monitor.store.models.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('mention', schema=None) as batch_op:
        batch_op.drop_column('unlisted_at')
