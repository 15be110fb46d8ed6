"""Writing a batch of rows the fastest way each database has (#18).

A batch of 500 changes writes four tables; how those rows reach the database was, on
PostgreSQL, most of a node's time (py-spy, docs/benchmarks-history.md):

- ``INSERT … RETURNING id`` of many rows is rendered by SQLAlchemy as one statement with a
  placeholder per value ("insertmanyvalues"), which psycopg must parse anew every time (it
  caches only short statements): a third of the prefecture's time. `reserve_ids` takes the
  ids first, so the rows go in without RETURNING.
- A plain ``executemany`` is one Bind/Execute per row on PostgreSQL (pipelined, but each
  row's parameters still adapted one by one in Python); ``COPY … FROM STDIN`` sends the
  rows as one stream. `insert_rows` uses COPY there for `COPY_FROM_ROWS` rows or more: a
  COPY takes two round trips (the statement, then the data), an INSERT of a few rows one;
  `insert_batches` sends the INSERTs of several small batches in one (a query's
  provision-log entry and its leaf, #18). On SQLite it hands the rows to the
  driver's ``executemany`` itself (one prepared statement, run in C), each value through its
  column's own bind processing: SQLAlchemy's per-row parameter handling around the same call
  was most of the time of writing a batch (P4's load: see docs/benchmarks-history.md).

Both run inside the caller's transaction: a failure rolls the batch back whole.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    ColumnElement,
    Connection,
    Dialect,
    LargeBinary,
    Table,
    any_,
    bindparam,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError

COPY_FROM_ROWS = 4  # PostgreSQL: fewer rows than this go in by INSERT (module docstring)
# SQLite's page cache for a bulk load's connection (KiB; SQLite's default is 2 MB): a million
# residents' indexes on random keys outgrow the default at once (#18, P4: 130-134 -> 113 s at
# 1,000,000 residents; 512 MB was no faster, 118 s).
BULK_LOAD_CACHE_KIB = 262_144
_NEXT_IDS = text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)")


def reserve_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """`count` fresh ids for rows about to be inserted into `table` (integer primary key
    `id`), ascending.

    PostgreSQL: taken from the column's sequence, so concurrent writers never meet.
    SQLite: the ones after the largest id, as SQLite itself would give them; safe because
    every SQLite write transaction begins IMMEDIATE (storage/db.py): no other writer runs
    until this one commits.
    """
    if count == 0:
        return []
    if conn.dialect.name == "postgresql":
        taken = conn.execute(_NEXT_IDS, {"table": table.name, "n": count}).scalars()
        return sorted(int(i) for i in taken)
    last = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    return list(range(int(last) + 1, int(last) + 1 + count))


def for_a_bulk_load(conn: Connection) -> None:
    """Make the caller's connection ready for writing many rows: on SQLite, a page cache of
    `BULK_LOAD_CACHE_KIB` for as long as the connection lives (a bulk load opens its database
    for itself and disposes of it after). PostgreSQL's buffers are the server's own."""
    if conn.dialect.name == "sqlite":
        driver = conn.connection.driver_connection
        assert driver is not None
        driver.execute(f"PRAGMA cache_size=-{BULK_LOAD_CACHE_KIB}")


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys) into `table`.

    Columns a row leaves out get their defaults as with ``insert``: the table's server
    defaults, and the scalar defaults the schema declares client-side.
    """
    insert_batches(conn, [(table, rows)])


def insert_batches(
    conn: Connection, batches: Sequence[tuple[Table, Sequence[dict[str, Any]]]]
) -> None:
    """Insert each batch of rows into its table, in order, as `insert_rows` does.

    On PostgreSQL the batches of fewer than `COPY_FROM_ROWS` rows go in together, in one round
    trip: psycopg's pipeline mode sends their INSERTs without waiting for each answer, and the
    server answers them together (a log entry and its leaf, #18). A failing row fails the
    rest of the caller's transaction as ever.
    """
    if conn.dialect.name != "postgresql":
        for table, rows in batches:
            _insert(conn, table, rows)
        return
    few: list[tuple[Table, Sequence[dict[str, Any]]]] = []
    for table, rows in batches:
        if rows and len(rows) < COPY_FROM_ROWS and _direct(table, conn.dialect):
            few.append((table, rows))
        else:
            _insert_together(conn, few)
            few = []
            _insert(conn, table, rows)
    _insert_together(conn, few)


def _insert_together(
    conn: Connection, batches: Sequence[tuple[Table, Sequence[dict[str, Any]]]]
) -> None:
    """PostgreSQL: INSERT each batch, all in one pipeline (one round trip)."""
    if not batches:
        return
    driver = conn.connection.driver_connection
    assert driver is not None
    statements: list[str] = []
    # The pipeline answers at its end: which of its statements failed is in the error.
    with _as_sqlalchemy_raises_it(conn, statements), driver.pipeline(), driver.cursor() as cursor:
        for table, rows in batches:
            given = tuple(rows[0])
            _names, defaults = _columns(table, given, conn.dialect)
            statements.append(_insert_sql(table, given, conn.dialect))
            cursor.executemany(
                statements[-1], [[*(row[n] for n in given), *defaults] for row in rows]
            )


def _insert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """One batch: SQLAlchemy's insert where the rows cannot bypass it, else COPY on
    PostgreSQL and the driver's executemany on SQLite."""
    if not rows:
        return
    postgresql = conn.dialect.name == "postgresql"
    if not _direct(table, conn.dialect):
        conn.execute(insert(table), rows)
        return
    given = tuple(rows[0])
    names, defaults = _columns(table, given, conn.dialect)
    driver = conn.connection.driver_connection
    assert driver is not None
    if postgresql:
        statement = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"

        def write() -> None:
            with driver.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row([*(row[n] for n in given), *defaults])

    else:
        statement = _insert_sql(table, given, conn.dialect)
        convert = [(n, _processor(table, n, conn.dialect)) for n in given]

        def write() -> None:
            driver.executemany(
                statement,
                (
                    (*(row[n] if p is None else p(row[n]) for n, p in convert), *defaults)
                    for row in rows
                ),
            )

    with _as_sqlalchemy_raises_it(conn, [statement]):
        write()


@contextlib.contextmanager
def _as_sqlalchemy_raises_it(conn: Connection, statements: Sequence[str]) -> Iterator[None]:
    """A driver error in the block raised as SQLAlchemy raises it for a statement
    (IntegrityError for a duplicate key…), naming `statements` (read when it is raised), so
    callers catch one kind of error whichever way the rows went in."""
    try:
        yield
    except conn.dialect.loaded_dbapi.Error as error:
        raise DBAPIError.instance(
            "; ".join(statements), None, error, conn.dialect.loaded_dbapi.Error
        ) from error


@functools.cache
def _columns(
    table: Table, given: tuple[str, ...], dialect: Dialect
) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    """The quoted columns a row of `given` keys is written to (those keys, then every other
    column with a client-side default) and those defaults' values."""
    filled = _client_defaults(table, frozenset(given))
    quote = dialect.identifier_preparer.quote
    return tuple(quote(n) for n in (*given, *filled)), tuple(filled.values())


@functools.cache
def _insert_sql(table: Table, given: tuple[str, ...], dialect: Dialect) -> str:
    """The driver's INSERT of one row of `given` keys (and the client-side defaults), with the
    driver's own placeholders: ``?`` for sqlite3, ``%s`` for psycopg."""
    names, _defaults = _columns(table, given, dialect)
    mark = "?" if dialect.name == "sqlite" else "%s"
    marks = ", ".join([mark] * len(names))
    return f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})"  # noqa: S608 - schema names


@functools.cache
def _direct(table: Table, dialect: Dialect) -> bool:
    """Whether rows of `table` may bypass SQLAlchemy's statement machinery on `dialect`:
    every client-side default is a plain value, and on PostgreSQL every column takes its
    Python value as the driver adapts it (COPY skips SQLAlchemy's bind processing; a
    Boolean's only checks the value, a LargeBinary's only wraps bytes). SQLite's rows are
    passed through each column's own bind processing (`_processor`)."""
    if dialect.name not in ("postgresql", "sqlite"):
        return False
    return all(
        (column.default is None or column.default.is_scalar)
        and (
            dialect.name == "sqlite"
            or isinstance(column.type, Boolean | LargeBinary)
            or _processor(table, column.name, dialect) is None
        )
        for column in table.columns
    )


@functools.cache
def _processor(table: Table, name: str, dialect: Dialect) -> Callable[[Any], Any] | None:
    """What SQLAlchemy does to a value of column `name` before the driver sees it (SQLite:
    times as its text format, booleans as integers)."""
    column_type = table.c[name].type
    return column_type.dialect_impl(dialect).bind_processor(dialect)


def _client_defaults(table: Table, given: frozenset[str]) -> dict[str, Any]:
    """The scalar client-side defaults of the columns not in `given`."""
    return {
        column.name: column.default.arg  # type: ignore[attr-defined]
        for column in table.columns
        if column.name not in given and column.default is not None
    }


_CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")


def plan_for_the_values(conn: Connection) -> None:
    """On PostgreSQL, plan the rest of the caller's transaction for each statement's actual
    values. A statement run often is prepared, and PostgreSQL then keeps a generic plan made
    without the values: one made while a table was nearly empty scans it whole and searches a
    `one_of` array row by row, unhashed, until autovacuum next analyzes the table — at
    national, 40–480 ms per batch read while its tables grew in the benchmark's P1 (#18, run
    7, plans by auto_explain). Planned for the values, the array is hashed (or the index used)."""
    if conn.dialect.name == "postgresql":
        conn.execute(_CUSTOM_PLANS)


def one_of(
    conn: Connection, column: ColumnElement[Any], values: Iterable[Any]
) -> ColumnElement[bool]:
    """``column IN values`` for a batch's worth of values: on PostgreSQL ``= ANY(array)``, one
    parameter (psycopg parses a statement with a placeholder per value anew each time, as
    above); elsewhere SQL's IN."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))
