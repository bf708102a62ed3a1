"""The SQL core the SQLite and PostgreSQL adapters share (private).

A :class:`Dialect` value says how a database spells what the stores need; a
:class:`SqlDatabase` subclass (each adapter's ``Database``) supplies connection handling;
the audit, breach and key stores, the row codecs and the migration runner are written here
once. An adapter keeps its connection handling, its consent store's set-based queries and
its dialect's few real differences.
"""

from avgkit.storage._sql._audit import SqlAuditStore
from avgkit.storage._sql._breaches import SqlBreachStore
from avgkit.storage._sql._consent import SqlConsentStore
from avgkit.storage._sql._db import Connection, Cursor, SqlDatabase
from avgkit.storage._sql._dialect import POSTGRESQL, SQLITE, Dialect
from avgkit.storage._sql._keys import SqlKeyStore
from avgkit.storage._sql._stores import store_set

__all__ = [
    "POSTGRESQL",
    "SQLITE",
    "Connection",
    "Cursor",
    "Dialect",
    "SqlAuditStore",
    "SqlBreachStore",
    "SqlConsentStore",
    "SqlDatabase",
    "SqlKeyStore",
    "store_set",
]
