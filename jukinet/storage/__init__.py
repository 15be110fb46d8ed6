"""Each node's own database, through SQLAlchemy 2.x: SQLite file by default, PostgreSQL by URL.

The tables (`schema`), how a unit of work runs on them (`db`: transactions,
read-only snapshots, SQLite's writer lock) and the Alembic migrations that
create them. Above core only: every layer that keeps something uses this.
"""

from jukinet.storage.db import Database, as_utc, open_database
from jukinet.storage.metadata import metadata

__all__ = ["Database", "as_utc", "metadata", "open_database"]
