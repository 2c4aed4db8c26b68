"""incidents

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 13:56:29.410514
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import monitor.store.models


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('incident',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('cause', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('opened_at', monitor.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_update_at', monitor.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_mention_at', monitor.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', monitor.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('mentions', sa.Integer(), nullable=False),
    sa.Column('mentions_at_last_update', sa.Integer(), nullable=False),
    sa.Column('updates', sa.Integer(), nullable=False),
    sa.Column('sources', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.create_index('ix_incident_brand_status', ['brand', 'status'], unique=False)

    with op.batch_alter_table('mention', schema=None) as batch_op:
        batch_op.add_column(sa.Column('incident_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_mention_incident_id'), ['incident_id'], unique=False)
        batch_op.create_foreign_key('fk_mention_incident', 'incident', ['incident_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('mention', schema=None) as batch_op:
        batch_op.drop_constraint('fk_mention_incident', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_mention_incident_id'))
        batch_op.drop_column('incident_id')

    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.drop_index('ix_incident_brand_status')

    op.drop_table('incident')
