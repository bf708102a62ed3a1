"""The ticket shop's SQLite schema, and how it stores instants.

Instants are stored as integer microseconds since 1970-01-01 UTC (``*_at`` columns): compact,
exactly ordered, and cheap to compare in SQL. :func:`to_micros` and :func:`from_micros`
convert; naive datetimes are refused.

The tables:

* ``events`` and ``performances`` (an event has performances, each with ``starts_at``);
* ``visitors``: the shop's people, keyed by text ids (``'v000001'``), of kind ``account``,
  ``guest`` (a quick registration at the box office) or ``relation`` (a business relation,
  with ``contract_ended_at``); their personal columns are named after the inventory's field
  keys (``name``, ``email``, ``phone``, ``street_address``, ``postcode``, ``city``,
  ``country``, ``birth_date``);
* ``orders`` (``created_at`` is the buyer's purchase activity; ``channel`` is ``web`` or
  ``box_office``) and ``payments``: fiscal records, kept for the tax term, so an erasure sets
  their personal columns (``billing_name``, ``billing_email``, ``ip_address``;
  ``account_holder``, ``bank_account``) to NULL and keeps the amounts and dates;
* ``tickets``: one per seat of an order; ``attendee_id`` names a person on someone else's
  order (a subject of kind ``attendee`` of its own), whose ``attendee_name`` and
  ``attendee_email`` the ticket carries;
* ``logins``, ``newsletter_reads`` (activity) and ``waiting_list`` entries of a visitor;
* ``support_mails`` (the sender may be unknown: ``visitor_id`` NULL; ``has_bank_details``
  flags mails holding bank details, which are kept for a shorter time);
* ``camera_footage``: clips of the ``inside`` and ``outside`` cameras, of nobody in
  particular.

Foreign keys are declared for the reader; SQLite does not enforce them unless a connection
asks (``PRAGMA foreign_keys = ON``), and the generator does not.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Final

from avgkit.errors import ValidationError

__all__ = [
    "INDEXES",
    "SCHEMA_VERSION",
    "TABLES",
    "create_indexes",
    "create_tables",
    "from_micros",
    "to_micros",
]

SCHEMA_VERSION: Final = 1
"""Stored as ``PRAGMA user_version``; changes whenever a table or an index changes."""

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)

TABLES: Final = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS performances (
    id INTEGER PRIMARY KEY,
    event_id INTEGER NOT NULL REFERENCES events (id),
    starts_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS visitors (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('account', 'guest', 'relation')),
    name TEXT,
    email TEXT,
    phone TEXT,
    street_address TEXT,
    postcode TEXT,
    city TEXT,
    country TEXT,
    birth_date TEXT,
    created_at INTEGER NOT NULL,
    contract_ended_at INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL,
    buyer_id TEXT NOT NULL REFERENCES visitors (id),
    channel TEXT NOT NULL CHECK (channel IN ('web', 'box_office')),
    created_at INTEGER NOT NULL,
    total_cents INTEGER NOT NULL,
    billing_name TEXT,
    billing_email TEXT,
    ip_address TEXT
);
CREATE TABLE IF NOT EXISTS tickets (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders (id),
    performance_id INTEGER NOT NULL REFERENCES performances (id),
    barcode TEXT NOT NULL,
    price_cents INTEGER NOT NULL,
    attendee_id TEXT,
    attendee_name TEXT,
    attendee_email TEXT
);
CREATE TABLE IF NOT EXISTS payments (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders (id),
    amount_cents INTEGER NOT NULL,
    method TEXT NOT NULL CHECK (method IN ('ideal', 'card', 'pin', 'cash')),
    account_holder TEXT,
    bank_account TEXT,
    paid_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS logins (
    id INTEGER PRIMARY KEY,
    visitor_id TEXT NOT NULL REFERENCES visitors (id),
    at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS newsletter_reads (
    id INTEGER PRIMARY KEY,
    visitor_id TEXT NOT NULL REFERENCES visitors (id),
    at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS waiting_list (
    id INTEGER PRIMARY KEY,
    visitor_id TEXT NOT NULL REFERENCES visitors (id),
    performance_id INTEGER NOT NULL REFERENCES performances (id),
    added_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS support_mails (
    id INTEGER PRIMARY KEY,
    visitor_id TEXT REFERENCES visitors (id),
    received_at INTEGER NOT NULL,
    from_name TEXT,
    from_email TEXT,
    body TEXT,
    has_bank_details INTEGER NOT NULL DEFAULT 0 CHECK (has_bank_details IN (0, 1))
);
CREATE TABLE IF NOT EXISTS camera_footage (
    id INTEGER PRIMARY KEY,
    camera TEXT NOT NULL CHECK (camera IN ('inside', 'outside')),
    recorded_at INTEGER NOT NULL,
    file TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS restrictions (
    visitor_id TEXT PRIMARY KEY
);
"""
"""The tables, without secondary indexes (a bulk load adds those afterwards)."""

# What the queries need: every per-subject lookup is an index range, and the indexes cover
# what is read through them: (subject, instant) for "last login" and "any login since",
# (order or attendee, performance) for a subject's event dates.
INDEXES: Final = """
CREATE UNIQUE INDEX IF NOT EXISTS orders_code ON orders (code);
CREATE INDEX IF NOT EXISTS orders_buyer ON orders (buyer_id, created_at);
CREATE INDEX IF NOT EXISTS tickets_order ON tickets (order_id, performance_id);
CREATE UNIQUE INDEX IF NOT EXISTS tickets_barcode ON tickets (barcode);
CREATE INDEX IF NOT EXISTS tickets_attendee ON tickets (attendee_id, performance_id)
    WHERE attendee_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS payments_order ON payments (order_id);
CREATE INDEX IF NOT EXISTS logins_visitor ON logins (visitor_id, at);
CREATE INDEX IF NOT EXISTS newsletter_reads_visitor ON newsletter_reads (visitor_id, at);
CREATE INDEX IF NOT EXISTS waiting_list_visitor ON waiting_list (visitor_id);
CREATE INDEX IF NOT EXISTS support_mails_visitor ON support_mails (visitor_id)
    WHERE visitor_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS support_mails_received ON support_mails (received_at);
CREATE INDEX IF NOT EXISTS camera_footage_recorded ON camera_footage (camera, recorded_at);
"""
"""The secondary indexes the host's queries rely on."""


def create_tables(conn: sqlite3.Connection) -> None:
    """Create the shop's tables (if missing) on ``conn``, without the secondary indexes."""
    conn.executescript(TABLES)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")


def create_indexes(conn: sqlite3.Connection) -> None:
    """Create the secondary indexes (if missing) and refresh the planner's statistics."""
    conn.executescript(INDEXES)
    conn.execute("ANALYZE")


def to_micros(value: datetime) -> int:
    """``value`` (aware) as integer microseconds since 1970-01-01 UTC.

    Raises:
        ValidationError: ``value`` is not a datetime, or is naive.
    """
    if not isinstance(value, datetime) or value.utcoffset() is None:
        msg = "instants must be timezone-aware datetimes (e.g. datetime(..., tzinfo=UTC))"
        raise ValidationError(msg)
    return (value - EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    """The aware UTC datetime stored as ``value`` microseconds since 1970-01-01 UTC."""
    return EPOCH + timedelta(0, 0, value)  # positional: this runs once per instant read
