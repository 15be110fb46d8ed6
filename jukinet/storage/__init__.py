"""Each node's own database, through SQLAlchemy 2.x: SQLite file by default, PostgreSQL by URL."""

from jukinet.storage.db import Database, as_utc, open_database
from jukinet.storage.schema import metadata

__all__ = ["Database", "as_utc", "metadata", "open_database"]
