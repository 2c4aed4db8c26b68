"""Persistence: SQLModel tables, the Store API and Alembic migrations."""

from monitor.store.models import (
    Alert,
    Delivery,
    Incident,
    Mention,
    MentionRevision,
    MentionSighting,
    SourceState,
    Thread,
)
from monitor.store.store import PendingAlert, Store, target_hash

__all__ = ["Alert", "Delivery", "Incident", "Mention", "MentionRevision", "MentionSighting", "PendingAlert",
           "SourceState", "Store", "Thread", "target_hash"]
