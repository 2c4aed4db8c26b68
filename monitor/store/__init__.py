"""Persistence: SQLModel tables, the Store API and Alembic migrations."""

from monitor.store.models import Alert, Delivery, Mention, SourceState
from monitor.store.store import PendingAlert, Store, target_hash

__all__ = ["Alert", "Delivery", "Mention", "PendingAlert", "SourceState", "Store", "target_hash"]
