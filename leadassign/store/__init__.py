"""The run history (a SQLite file or any SQLAlchemy database), rebalancing from it, and the
owner-update files CRMs import."""

from leadassign.store.db import DEFAULT_STORE, RunRow, Store, StoreBusy, StoreError

__all__ = ["DEFAULT_STORE", "RunRow", "Store", "StoreBusy", "StoreError"]
