"""The PostgreSQL adapter: for venues and vendors that outgrow one machine.

Open it with ``postgresql://user@host:5432/db?schema=venue_a`` (``postgres://`` works too).
It needs the ``postgres`` extra (``pip install 'avgkit[postgres]'``: psycopg 3 and
psycopg-pool) and PostgreSQL 12 or newer.

* **Schema.** Every table lives in one schema (``?schema=``, default ``avgkit``), created on
  first open; every pooled connection runs with ``search_path`` set to it, so several venues
  share one database without seeing each other's rows.
* **Pool.** A :class:`psycopg_pool.ConnectionPool` per store set, sized by ``pool_min``
  (default 1) and ``pool_max`` (default 4); ``pool_timeout`` (seconds, default 30) bounds the
  wait for a free connection. Other query parameters go to libpq (``sslmode``,
  ``connect_timeout``, ``application_name``, ...). Connections run in UTC.
* **Migrations.** Per component, versioned, in ``<schema>.avgkit_schema``; each open runs the
  missing scripts in one transaction under an advisory lock, so two processes starting at
  once never both migrate, and a database written by a newer avgkit is refused.
* **Errors.** psycopg errors become :class:`~avgkit.errors.StorageError` (unique,
  serialization and deadlock failures :class:`~avgkit.errors.ConflictError`) with the driver's
  exception as ``__cause__``. Messages carry the server's primary message only (its DETAIL
  can quote row values) and never the password; ``repr`` shows host, database and schema.

Adding a store (the pattern to copy)
------------------------------------
``_audit.py`` is the template. A new ``_consent.py`` (``_keys.py``, ``_breach.py``, ...):

1. ``COMPONENT = "consent"`` and ``MIGRATIONS: tuple[str, ...]``; each script is plain SQL
   without parameters, may hold several statements and ``$$`` function bodies, and is never
   edited once released. Name tables after the component (``consent_events``); give
   trigger functions a component prefix (``avgkit_consent_append_only()``) so components
   never depend on each other's migrations.
2. ``__init__(self, db: Database)`` calls ``db.migrate(COMPONENT, MIGRATIONS)``.
3. Each method is one :meth:`Database.write` or :meth:`Database.read` block; the block is
   one transaction, committed when it ends and rolled back by any exception, and its
   ``what`` names the operation in error messages. Check-then-write logic goes in one
   statement or one block; let the primary key or a unique index turn a lost race into a
   :class:`~avgkit.errors.ConflictError`.
4. Long results: keyset pages (short transactions, as ``PostgresAuditStore`` does) when
   the caller may write while iterating, or :meth:`Database.stream` (one server-side
   cursor, bounded memory, one snapshot) for set-based queries such as a consent audience:
   one SQL statement computes the set on the server, Python only sees the rows.
5. Bulk loads (consent import): :func:`copy_rows` inside a ``write()`` block, with
   ``types=`` for the binary COPY format; stage into a temporary table and
   ``INSERT ... SELECT`` from it when rows must be checked or deduplicated on the way in.
6. Wire the store into :func:`open_url` and :class:`~avgkit.storage.StoreSet`, and run its
   conformance contract in ``tests/test_postgres.py`` with the ``pg_url`` fixture.

Locking for the retention executor
----------------------------------
Two workers executing one retention plan must never erase a subject twice, or half. The
design: each subject is handled in **one** ``write()`` transaction that

1. takes ``db.try_lock(conn, f"retention:{subject_ref}")`` (a transaction-level advisory
   lock, ``pg_try_advisory_xact_lock``, released at commit or rollback, even if the worker
   dies: the server ends its transaction) and moves on to the next subject when it gets
   ``False``;
2. *then* re-reads the subject's state (already erased? on hold?) and skips it when the
   work is done. Under READ COMMITTED (the default) each statement sees everything
   committed before it, so a worker that gets the lock after another worker committed
   sees that work. (Under REPEATABLE READ the snapshot would date from the transaction's
   first statement, so the lock must be taken in an earlier transaction.)
3. does all of the subject's work (host erasure call, avgkit state, audit entry, outbox
   notice) before committing, so a failure leaves nothing half done.

``False`` means "busy now", not "done": the executor passes over the plan again until no
subject is left, which also picks up subjects whose worker rolled back. A work table
claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` is the alternative when plans are
themselves stored; the same re-read-after-lock rule applies. Advisory locks are per
database, so keys are prefixed with the schema. (On Citus, advisory locks are per node:
run the executor against the coordinator.)

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from avgkit.storage import StoreSet
from avgkit.storage.postgres._audit import PostgresAuditStore
from avgkit.storage.postgres._breaches import PostgresBreachStore
from avgkit.storage.postgres._consent import PostgresConsentStore
from avgkit.storage.postgres._db import (
    Connection,
    Database,
    PostgresSettings,
    copy_rows,
    parse_url,
    translated,
)
from avgkit.storage.postgres._keys import PostgresKeyStore

__all__ = [
    "Connection",
    "Database",
    "PostgresAuditStore",
    "PostgresBreachStore",
    "PostgresConsentStore",
    "PostgresKeyStore",
    "PostgresSettings",
    "copy_rows",
    "open_url",
    "parse_url",
    "translated",
]


def open_url(url: str) -> StoreSet:
    """Open (creating the schema and migrating as needed) the PostgreSQL stores at ``url``.

    Raises:
        ValidationError: the URL is malformed (the message names the parameter).
        StorageError: the server cannot be reached or refuses the schema.

    .. versionadded:: 0.1.0
    """
    db = Database(url)
    try:
        audit = PostgresAuditStore(db)
        keys = PostgresKeyStore(db)
        breaches = PostgresBreachStore(db)
        consent = PostgresConsentStore(db)
    except BaseException:
        db.close()
        raise
    return StoreSet(
        url=url,
        audit=audit,
        keys=keys,
        breaches=breaches,
        consent=consent,
        closer=db.close,
        joiner=db.joined,
    )
