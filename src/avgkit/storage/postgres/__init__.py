"""The PostgreSQL adapter: for venues and vendors that outgrow one machine.

Open it with ``postgresql://user@host:5432/db?schema=venue_a`` (``postgres://`` works too).
It needs the ``postgres`` extra (``pip install 'avgkit[postgres]'``: psycopg 3 and
psycopg-pool) and PostgreSQL 12 or newer.

* **Schema.** Every table lives in one schema (``?schema=``, default ``avgkit``), created on
  first open; every pooled connection runs with ``search_path`` set to it, so several venues
  share one database without seeing each other's rows.
* **Pool.** A :class:`psycopg_pool.ConnectionPool` per store set, sized by ``pool_min``
  (default 1) and ``pool_max`` (default 4); ``pool_timeout`` (seconds, default 30) bounds the
  wait for a free connection. The libpq parameters in :data:`LIBPQ_PARAMETERS` go to libpq
  (``sslmode``, ``connect_timeout``, ``application_name``, ...); any other is refused.
  Connections run in UTC.
* **Migrations.** Per component, versioned, in ``<schema>.avgkit_schema``; each open runs the
  missing scripts in one transaction under an advisory lock, so two processes starting at
  once never both migrate, and a database written by a newer avgkit is refused.
* **Errors.** psycopg errors become :class:`~avgkit.errors.StorageError` (unique,
  serialization and deadlock failures :class:`~avgkit.errors.ConflictError`) naming the
  operation and the SQLSTATE only: the server's messages can quote row values, so neither
  they nor the driver's exception (no ``__cause__``, no ``__context__``) come along. The
  password never appears; ``repr`` shows host, database and schema.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from avgkit.storage import StoreSet
from avgkit.storage._sql import SqlAuditStore, SqlBreachStore, SqlKeyStore, store_set
from avgkit.storage.postgres._consent import PostgresConsentStore
from avgkit.storage.postgres._db import LIBPQ_PARAMETERS, Database, PostgresSettings, parse_url

__all__ = ["LIBPQ_PARAMETERS", "PostgresSettings", "open_url", "parse_url"]

# The store classes of 0.1.0 under their old names; the stores are now the SQL core's,
# shared with SQLite. Internal: open stores with open_url() or avgkit.storage.open_stores().
PostgresAuditStore, PostgresBreachStore, PostgresKeyStore = (
    SqlAuditStore,
    SqlBreachStore,
    SqlKeyStore,
)


def open_url(url: str) -> StoreSet:
    """Open (creating the schema and migrating as needed) the PostgreSQL stores at ``url``.

    If a store cannot be opened (a migration fails), the connection pool is closed before
    the error propagates.

    Raises:
        ValidationError: the URL is malformed (the message names the parameter).
        StorageError: the server cannot be reached or refuses the schema.

    .. versionadded:: 0.1.0
    """
    return store_set(url, Database(url), PostgresConsentStore)
