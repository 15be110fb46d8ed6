"""The one SQLAlchemy MetaData every table of a node is declared on (schema.py, log_tables.py),
and the id type they share."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, MetaData

metadata = MetaData()

# BigInteger autoincrement that SQLite also treats as ROWID.
Id = BigInteger().with_variant(Integer(), "sqlite")
