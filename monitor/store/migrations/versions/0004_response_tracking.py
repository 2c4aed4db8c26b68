"""response tracking

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 16:19:55.824359

The columns and tables the response side works on: triage status, assignee and
snooze (web inbox), the public-reply clock (first reply, SLA deadline, reminders,
breach), company replies (template detection), notes, source health events (source
health alerts, digest coverage), digest runs, alert acknowledgement and escalation.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

import monitor.store.models


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('digest_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('week', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('created_at', monitor.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', monitor.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('scope', 'week', name='uq_digest_run')
    )
    op.create_table('source_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('at', monitor.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('source_event', schema=None) as batch_op:
        batch_op.create_index('ix_source_event_source_at', ['source_id', 'at'], unique=False)

    op.create_table('note',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mention_id', sa.Integer(), nullable=False),
    sa.Column('author', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('body', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('created_at', monitor.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['mention_id'], ['mention.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('note', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_note_mention_id'), ['mention_id'], unique=False)

    op.create_table('public_reply',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mention_id', sa.Integer(), nullable=False),
    sa.Column('brand', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('author', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('body', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('body_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('replied_at', monitor.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('detected_by', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('reply_mention_id', sa.Integer(), nullable=True),
    sa.Column('is_template', sa.Boolean(), nullable=False),
    sa.Column('template_matches', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['mention_id'], ['mention.id'], ),
    sa.ForeignKeyConstraint(['reply_mention_id'], ['mention.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('mention_id', 'body_hash', name='uq_public_reply')
    )
    with op.batch_alter_table('public_reply', schema=None) as batch_op:
        batch_op.create_index('ix_public_reply_brand_replied', ['brand', 'replied_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_public_reply_mention_id'), ['mention_id'], unique=False)

    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.add_column(sa.Column('incident_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('recipient', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.add_column(sa.Column('tier', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('acked_at', monitor.store.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('acked_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.add_column(sa.Column('escalate_at', monitor.store.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_alert_escalate_at', ['escalate_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_incident_id'), ['incident_id'], unique=False)
        batch_op.create_foreign_key('fk_alert_incident', 'incident', ['incident_id'], ['id'])

    with op.batch_alter_table('mention', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False, server_default='open'))
        batch_op.add_column(sa.Column('assignee', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.add_column(sa.Column('snoozed_until', monitor.store.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_at', monitor.store.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.add_column(sa.Column('resolved_at', monitor.store.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('first_reply_at', monitor.store.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sla_due_at', monitor.store.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sla_stage', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('sla_breached_at', monitor.store.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('delay_notice_at', monitor.store.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_mention_status_sla_due', ['status', 'sla_due_at'], unique=False)

    # -- web triage (issue 8): "not a complaint" feeds the brand's ignore rules
    op.create_table('ignore_rule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('field', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('value', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('mention_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('created_at', monitor.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['mention_id'], ['mention.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('brand', 'field', 'value', name='uq_ignore_rule')
    )
    op.create_table('triage_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mention_id', sa.Integer(), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('at', monitor.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.ForeignKeyConstraint(['mention_id'], ['mention.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('triage_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_triage_event_mention_id'), ['mention_id'], unique=False)
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.create_index('ix_delivery_attempted_at', ['attempted_at'], unique=False)


    # -- weekly digest (issue 7): retries of a failed send and the claim of a run
    with op.batch_alter_table('digest_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('next_attempt_at', monitor.store.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('claimed_at', monitor.store.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('recipients', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('delivered', sa.JSON(), nullable=True))

    # -- public replies and source health (issue 6, reply side): the normalised text a
    # reply is compared by (templates), and a source's mentions by time (silence)
    with op.batch_alter_table('public_reply', schema=None) as batch_op:
        batch_op.add_column(sa.Column('normalized', sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=''))
    with op.batch_alter_table('mention', schema=None) as batch_op:
        batch_op.create_index('ix_mention_source_published', ['source_id', 'published_at'], unique=False)

    # -- ingest at scale (issue 4): on PostgreSQL leave a tenth of each page free, so that
    # the updates a sighting makes (last_seen_at, times_seen: no index on them) stay on
    # the row's page (HOT) instead of adding an entry to each of the table's indexes.
    if op.get_bind().dialect.name == 'postgresql':
        for table in ('mention', 'mention_sighting'):
            op.execute(f'ALTER TABLE {table} SET (fillfactor = 90)')

    # -- alert path (issue 6): alerts held for business hours or a channel's rate
    # limit, sent together as one message when they come due
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.add_column(sa.Column('held', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))


def downgrade() -> None:
    # -- alert path (issue 6)
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.drop_column('held')
    if op.get_bind().dialect.name == 'postgresql':
        for table in ('mention', 'mention_sighting'):
            op.execute(f'ALTER TABLE {table} RESET (fillfactor)')
    # -- public replies and source health (issue 6, reply side)
    with op.batch_alter_table('mention', schema=None) as batch_op:
        batch_op.drop_index('ix_mention_source_published')
    with op.batch_alter_table('public_reply', schema=None) as batch_op:
        batch_op.drop_column('normalized')

    # -- weekly digest (issue 7)
    with op.batch_alter_table('digest_run', schema=None) as batch_op:
        batch_op.drop_column('delivered')
        batch_op.drop_column('recipients')
        batch_op.drop_column('claimed_at')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('attempts')
    # -- web triage (issue 8)
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_attempted_at')
    with op.batch_alter_table('triage_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_triage_event_mention_id'))
    op.drop_table('triage_event')
    op.drop_table('ignore_rule')

    with op.batch_alter_table('mention', schema=None) as batch_op:
        batch_op.drop_index('ix_mention_status_sla_due')
        batch_op.drop_column('delay_notice_at')
        batch_op.drop_column('sla_breached_at')
        batch_op.drop_column('sla_stage')
        batch_op.drop_column('sla_due_at')
        batch_op.drop_column('first_reply_at')
        batch_op.drop_column('resolved_at')
        batch_op.drop_column('acknowledged_by')
        batch_op.drop_column('acknowledged_at')
        batch_op.drop_column('snoozed_until')
        batch_op.drop_column('assignee')
        batch_op.drop_column('status')

    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.drop_constraint('fk_alert_incident', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_alert_incident_id'))
        batch_op.drop_index('ix_alert_escalate_at')
        batch_op.drop_column('escalate_at')
        batch_op.drop_column('acked_by')
        batch_op.drop_column('acked_at')
        batch_op.drop_column('tier')
        batch_op.drop_column('recipient')
        batch_op.drop_column('incident_id')

    with op.batch_alter_table('public_reply', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_public_reply_mention_id'))
        batch_op.drop_index('ix_public_reply_brand_replied')

    op.drop_table('public_reply')
    with op.batch_alter_table('note', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_note_mention_id'))

    op.drop_table('note')
    with op.batch_alter_table('source_event', schema=None) as batch_op:
        batch_op.drop_index('ix_source_event_source_at')

    op.drop_table('source_event')
    op.drop_table('digest_run')
