"""mention lifecycle: sightings, revisions, threads, removals

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 13:41:50.964446
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import monitor.store.models


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('thread',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('author_key', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('started_at', monitor.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_message_at', monitor.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('messages', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('author_key', 'started_at', name='uq_thread')
    )
    with op.batch_alter_table('thread', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_thread_author_key'), ['author_key'], unique=False)

    op.create_table('mention_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mention_id', sa.Integer(), nullable=False),
    sa.Column('changed_at', monitor.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('changed_fields', sa.JSON(), nullable=True),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('body', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('rating', sa.Float(), nullable=True),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('severity', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('worse', sa.Boolean(), nullable=False),
    sa.Column('better', sa.Boolean(), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.ForeignKeyConstraint(['mention_id'], ['mention.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('mention_revision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mention_revision_mention_id'), ['mention_id'], unique=False)

    op.create_table('mention_sighting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mention_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('first_seen_at', monitor.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', monitor.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('times_seen', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['mention_id'], ['mention.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('mention_id', 'source_id', name='uq_sighting')
    )
    with op.batch_alter_table('mention_sighting', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mention_sighting_mention_id'), ['mention_id'], unique=False)

    with op.batch_alter_table('mention', schema=None) as batch_op:
        batch_op.add_column(sa.Column('removed_at', monitor.store.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('author_key', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True))
        batch_op.add_column(sa.Column('thread_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('thread_position', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('revisions', sa.Integer(), nullable=False, server_default='0'))
        batch_op.create_index(batch_op.f('ix_mention_author_key'), ['author_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_mention_thread_id'), ['thread_id'], unique=False)
        batch_op.create_foreign_key('fk_mention_thread', 'thread', ['thread_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('mention', schema=None) as batch_op:
        batch_op.drop_constraint('fk_mention_thread', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_mention_thread_id'))
        batch_op.drop_index(batch_op.f('ix_mention_author_key'))
        batch_op.drop_column('revisions')
        batch_op.drop_column('thread_position')
        batch_op.drop_column('thread_id')
        batch_op.drop_column('author_key')
        batch_op.drop_column('removed_at')

    with op.batch_alter_table('mention_sighting', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mention_sighting_mention_id'))

    op.drop_table('mention_sighting')
    with op.batch_alter_table('mention_revision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mention_revision_mention_id'))

    op.drop_table('mention_revision')
    with op.batch_alter_table('thread', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_thread_author_key'))

    op.drop_table('thread')
