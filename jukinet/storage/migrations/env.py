"""Alembic environment: migrations run on the connection `storage.db.migrate` passes in."""

from alembic import context

from jukinet.storage.metadata import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
