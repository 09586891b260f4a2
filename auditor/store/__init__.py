"""The embedded store (SQLite by default, any SQLAlchemy URL such as PostgreSQL by `--db`)."""

from auditor.store.store import FailureRow, Store, StoredFinding, as_utc, database_url, open_store

__all__ = ["FailureRow", "Store", "StoredFinding", "as_utc", "database_url", "open_store"]
