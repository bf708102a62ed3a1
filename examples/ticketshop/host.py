"""``TicketShopHost``: :class:`avgkit.host.HostData` over the ticket shop's SQLite file.

Every answer comes from SQL on the shop's own tables (see :mod:`ticketshop.schema`); nothing
is copied. Long answers stream: :meth:`TicketShopHost.subjects` pages by key, the other
streams fetch a page of rows at a time from one statement. Time comes only from the
arguments; the host never reads a clock.

Who a value belongs to:

* a visitor row, their orders and the payments of those orders are the visitor's (orders and
  payments are fiscal: an erasure sets their personal columns to NULL and keeps the buyer
  reference, the amounts and the dates);
* a ticket naming an attendee (``attendee_id``) carries the attendee's name and e-mail; a
  ticket without one carries the buyer's own (a personalised ticket). The buyer lists every
  ticket of their orders, without the attendee's values;
* a support mail is its sender's, if the shop knows them.

.. code-block:: python

    from ticketshop import TicketShopHost
    from avgkit.presets import ticketing

    with TicketShopHost("shop.db", ticketing.inventory()) as host:
        for subject in host.inactive_since({"login", "purchase"}, before=cutoff):
            ...
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import attrs

from avgkit.errors import StorageError, ValidationError
from avgkit.host import HostCapabilities, HostErasure, HostRecord, HostSubject, SubjectKind
from avgkit.inventory import Inventory
from avgkit.retention import CONTRACT_END
from avgkit.subjects import SubjectId, subject_id

from .schema import from_micros, to_micros

__all__ = ["ACTIVITY_TYPES", "SOURCES", "TicketShopHost"]

ACTIVITY_TYPES: Final = frozenset({"purchase", "login", "newsletter_read", CONTRACT_END})
"""The activity types the shop reports in :attr:`avgkit.host.HostSubject.last_activity`."""

_NEVER: Final = -(2**63)  # below every stored instant
_SAVEPOINT: Final = "ticketshop_erasure"


@attrs.frozen(kw_only=True)
class _Source:
    """Where the records of one source live, and which of their columns are personal.

    Every query names each table by its own name (no aliases), so the expressions here can
    be used in SELECTs with ``joins`` and in UPDATE and DELETE statements on ``table`` alike.
    """

    name: str
    table: str
    key: str
    """The column holding the record's key, compared with the key as text or as a number."""
    numeric_key: bool
    at: str
    """The record's instant: an expression over ``table`` and ``joins``."""
    mine: str
    """The condition selecting the records of subject ``:s`` (with ``joins``)."""
    owner: str | None = None
    """The subject whose values a row holds (``None``: nobody's, camera footage)."""
    joins: str = ""
    values: tuple[tuple[str, str], ...] = ()
    """The personal columns reported, as (expression, inventory field key)."""
    strip: tuple[str, ...] = ()
    """The columns set to NULL when the record is kept without its personal values."""
    where: str = "1"
    """The condition on ``table``'s rows that belong to this source."""
    fiscal: bool = False

    def select(self, condition: str, values: Iterable[str] | None = None) -> str:
        """``SELECT key, at, values... FROM table joins WHERE condition AND where``."""
        columns = ", ".join(self.value_expressions() if values is None else values)
        return (
            f"SELECT CAST({self.table}.{self.key} AS TEXT), {self.at}"
            f"{', ' if columns else ''}{columns} FROM {self.table} {self.joins} "
            f"WHERE ({condition}) AND ({self.where})"
        )

    def value_expressions(self) -> list[str]:
        """The expressions of the personal columns, in the order of :attr:`values`."""
        return [expression for expression, _ in self.values]

    def any_set(self, columns: Iterable[str]) -> str:
        """A condition true when one of ``columns`` still holds a value."""
        return "(" + " OR ".join(f"{column} IS NOT NULL" for column in columns) + ")"

    def strip_sql(self, condition: str, *, all_rows: bool = False) -> str:
        """``UPDATE`` setting :attr:`strip` to NULL on the rows of ``condition`` that hold any.

        With ``all_rows``, on every row of the table, not only those of this source.
        """
        assignments = ", ".join(f"{column} = NULL" for column in self.strip)
        where = "1" if all_rows else self.where
        return (
            f"UPDATE {self.table} SET {assignments} "
            f"WHERE ({condition}) AND ({where}) AND {self.any_set(self.strip)}"
        )


_VISITOR_COLUMNS: Final = (
    "name",
    "email",
    "phone",
    "street_address",
    "postcode",
    "city",
    "country",
    "birth_date",
)


def _mail(name: str, *, bank_details: bool) -> _Source:
    """A source of support mail: with or without bank details."""
    values: tuple[tuple[str, str], ...] = (
        ("support_mails.from_name", "name"),
        ("support_mails.from_email", "email"),
    )
    if bank_details:
        # The body is where the bank details are: it is reported (and found by a breach)
        # as the sender's bank account.
        values = (*values, ("support_mails.body", "bank_account"))
    return _Source(
        name=name,
        table="support_mails",
        key="id",
        numeric_key=True,
        at="support_mails.received_at",
        mine="support_mails.visitor_id = :s",
        owner="support_mails.visitor_id",
        values=values,
        strip=("from_name", "from_email", "body"),
        where=f"support_mails.has_bank_details = {int(bank_details)}",
    )


_ORDERS_OF_PAYMENT: Final = "JOIN orders ON orders.id = payments.order_id"
_ORDERS_OF_TICKET: Final = "JOIN orders ON orders.id = tickets.order_id"

SOURCES: Final = {
    source.name: source
    for source in (
        _Source(
            name="visitors",
            table="visitors",
            key="id",
            numeric_key=False,
            at="visitors.created_at",
            mine="visitors.id = :s",
            owner="visitors.id",
            values=tuple((f"visitors.{column}", column) for column in _VISITOR_COLUMNS),
            strip=_VISITOR_COLUMNS,
        ),
        _Source(
            name="orders",
            table="orders",
            key="code",
            numeric_key=False,
            at="orders.created_at",
            mine="orders.buyer_id = :s",
            owner="orders.buyer_id",
            values=(
                ("orders.billing_name", "name"),
                ("orders.billing_email", "email"),
                ("orders.ip_address", "ip_address"),
            ),
            strip=("billing_name", "billing_email", "ip_address"),
            fiscal=True,
        ),
        _Source(
            name="tickets",
            table="tickets",
            key="barcode",
            numeric_key=False,
            at="orders.created_at",
            joins=_ORDERS_OF_TICKET,
            # The buyer lists every ticket of their orders; the values are the attendee's
            # where the ticket names one (see TicketShopHost.records).
            mine="orders.buyer_id = :s OR tickets.attendee_id = :s",
            owner="coalesce(tickets.attendee_id, orders.buyer_id)",
            values=(("tickets.attendee_name", "name"), ("tickets.attendee_email", "email")),
            strip=("attendee_name", "attendee_email"),
        ),
        _Source(
            name="payments",
            table="payments",
            key="id",
            numeric_key=True,
            at="payments.paid_at",
            joins=_ORDERS_OF_PAYMENT,
            mine="orders.buyer_id = :s",
            owner="orders.buyer_id",
            values=(("payments.account_holder", "name"), ("payments.bank_account", "bank_account")),
            strip=("account_holder", "bank_account"),
            fiscal=True,
        ),
        _Source(
            name="logins",
            table="logins",
            key="id",
            numeric_key=True,
            at="logins.at",
            mine="logins.visitor_id = :s",
        ),
        _Source(
            name="newsletter_reads",
            table="newsletter_reads",
            key="id",
            numeric_key=True,
            at="newsletter_reads.at",
            mine="newsletter_reads.visitor_id = :s",
        ),
        _Source(
            name="waiting_list",
            table="waiting_list",
            key="id",
            numeric_key=True,
            at="waiting_list.added_at",
            mine="waiting_list.visitor_id = :s",
        ),
        _mail("support_mail", bank_details=False),
        _mail("support_mail_bank_details", bank_details=True),
        _Source(
            name="camera_inside",
            table="camera_footage",
            key="id",
            numeric_key=True,
            at="camera_footage.recorded_at",
            mine="0",
            where="camera_footage.camera = 'inside'",
        ),
        _Source(
            name="camera_outside",
            table="camera_footage",
            key="id",
            numeric_key=True,
            at="camera_footage.recorded_at",
            mine="0",
            where="camera_footage.camera = 'outside'",
        ),
    )
}
"""Every source the shop reports, by the name used in :attr:`avgkit.host.HostRecord.source`."""

# The sources records() lists for a subject, in this order.
_SUBJECT_SOURCES: Final = tuple(
    source for source in SOURCES.values() if not source.name.startswith("camera_")
)

# A ticket's values belong to its attendee, or to the buyer when it names none.
_TICKET_RECORDS: Final = (
    "SELECT tickets.barcode, orders.created_at, "
    "CASE WHEN tickets.attendee_id IS NULL OR tickets.attendee_id = :s "
    "THEN tickets.attendee_name END, "
    "CASE WHEN tickets.attendee_id IS NULL OR tickets.attendee_id = :s "
    "THEN tickets.attendee_email END "
    f"FROM tickets {_ORDERS_OF_TICKET} WHERE orders.buyer_id = :s "
    "UNION "
    "SELECT tickets.barcode, orders.created_at, tickets.attendee_name, tickets.attendee_email "
    f"FROM tickets {_ORDERS_OF_TICKET} WHERE tickets.attendee_id = :s "
    "ORDER BY 2, 1"
)

# The last instant of each activity type, for the subject of visitors row `visitors`.
_LAST: Final = (
    "visitors.contract_ended_at",
    "(SELECT max(orders.created_at) FROM orders WHERE orders.buyer_id = visitors.id)",
    "(SELECT max(logins.at) FROM logins WHERE logins.visitor_id = visitors.id)",
    (
        "(SELECT max(newsletter_reads.at) FROM newsletter_reads "
        "WHERE newsletter_reads.visitor_id = visitors.id)"
    ),
)
_SUBJECT_COLUMNS: Final = "visitors.id, visitors.kind, " + ", ".join(_LAST)
_LAST_OF: Final = dict(
    zip((CONTRACT_END, "purchase", "login", "newsletter_read"), _LAST, strict=True)
)
_KINDS: Final = {kind.value: kind for kind in SubjectKind}

# "Active at or after :before", per activity type: one index probe each. inactive_since()
# asks them in this order and stops at the first that finds activity: purchases first (as
# many recent buyers as recent log-ins, in a smaller index), then log-ins, then reads.
_ACTIVE_SINCE: Final = {
    "purchase": (
        "EXISTS (SELECT 1 FROM orders "
        "WHERE orders.buyer_id = visitors.id AND orders.created_at >= :before)"
    ),
    "login": (
        "EXISTS (SELECT 1 FROM logins "
        "WHERE logins.visitor_id = visitors.id AND logins.at >= :before)"
    ),
    "newsletter_read": (
        "EXISTS (SELECT 1 FROM newsletter_reads "
        "WHERE newsletter_reads.visitor_id = visitors.id AND newsletter_reads.at >= :before)"
    ),
    CONTRACT_END: (
        "(visitors.contract_ended_at IS NOT NULL AND visitors.contract_ended_at >= :before)"
    ),
}

# Attendees who are not also visitors: subjects of kind 'attendee', with no activity.
_ATTENDEES: Final = (
    "SELECT DISTINCT tickets.attendee_id FROM tickets "
    "WHERE tickets.attendee_id IS NOT NULL AND NOT EXISTS "
    "(SELECT 1 FROM visitors WHERE visitors.id = tickets.attendee_id)"
)
_ATTENDEE_PAGE: Final = (
    "SELECT DISTINCT tickets.attendee_id FROM tickets WHERE tickets.attendee_id > ? "
    "AND NOT EXISTS (SELECT 1 FROM visitors WHERE visitors.id = tickets.attendee_id) "
    "ORDER BY tickets.attendee_id LIMIT ?"
)

# Both halves read only covering indexes and the performances' primary key.
_EVENT_DATES: Final = (
    "SELECT performances.starts_at FROM orders "
    "JOIN tickets ON tickets.order_id = orders.id "
    "JOIN performances ON performances.id = tickets.performance_id "
    "WHERE orders.buyer_id = :s AND performances.starts_at > :after "
    "UNION SELECT performances.starts_at FROM tickets "
    "JOIN performances ON performances.id = tickets.performance_id "
    "WHERE tickets.attendee_id = :s AND performances.starts_at > :after ORDER BY 1"
)

_ORDERS_OF_SUBJECT: Final = "SELECT orders.id FROM orders WHERE orders.buyer_id = :s"


_STRIP_ORDERS: Final = SOURCES["orders"].strip_sql("orders.buyer_id = :s")
_STRIP_PAYMENTS: Final = SOURCES["payments"].strip_sql(
    f"payments.order_id IN ({_ORDERS_OF_SUBJECT})"
)

# anonymise(): every row stays and loses the subject's values. A ticket's attendee columns
# are the subject's when they attend, or when the ticket is on their order and names nobody.
_ANONYMISE: Final = (
    SOURCES["visitors"].strip_sql("visitors.id = :s"),
    _STRIP_ORDERS,
    _STRIP_PAYMENTS,
    SOURCES["tickets"].strip_sql(
        "tickets.attendee_id = :s OR (tickets.attendee_id IS NULL "
        f"AND tickets.order_id IN ({_ORDERS_OF_SUBJECT}))"
    ),
    SOURCES["support_mail"].strip_sql("support_mails.visitor_id = :s", all_rows=True),
)

# delete(): (statement, whether its rows count as anonymised rather than deleted).
_DELETE: Final = (
    # The tickets of the subject's orders that name nobody else go; one naming another
    # attendee is that attendee's record and stays (the buyer's part of it is the order).
    (
        (
            f"DELETE FROM tickets WHERE tickets.order_id IN ({_ORDERS_OF_SUBJECT}) "
            "AND (tickets.attendee_id IS NULL OR tickets.attendee_id = :s)"
        ),
        False,
    ),
    # Attending someone else's order: the buyer's ticket stays, without the subject on it.
    (
        (
            "UPDATE tickets SET attendee_id = NULL, attendee_name = NULL, attendee_email = NULL "
            "WHERE tickets.attendee_id = :s"
        ),
        True,
    ),
    (_STRIP_ORDERS, True),  # fiscal: kept without personal values
    (_STRIP_PAYMENTS, True),  # fiscal: kept with their amounts
    ("DELETE FROM logins WHERE logins.visitor_id = :s", False),
    ("DELETE FROM newsletter_reads WHERE newsletter_reads.visitor_id = :s", False),
    ("DELETE FROM waiting_list WHERE waiting_list.visitor_id = :s", False),
    ("DELETE FROM support_mails WHERE support_mails.visitor_id = :s", False),
    ("DELETE FROM restrictions WHERE restrictions.visitor_id = :s", False),
    ("DELETE FROM visitors WHERE visitors.id = :s", False),
)

_RESTRICTIONS_TABLE: Final = "CREATE TABLE IF NOT EXISTS restrictions (visitor_id TEXT PRIMARY KEY)"

# rectify(): everywhere subject :s's own value of a field is kept: the visitor row, the
# billing details of their orders and payments, their support mail, and a ticket's attendee
# columns where the ticket names them (or names nobody and is on their order).
_THEIR_TICKETS: Final = (
    "tickets.attendee_id = :s OR (tickets.attendee_id IS NULL "
    f"AND tickets.order_id IN ({_ORDERS_OF_SUBJECT}))"
)
_THEIR_PAYMENTS: Final = f"payments.order_id IN ({_ORDERS_OF_SUBJECT})"
_RECTIFY: Final = {
    **{
        column: (f"UPDATE visitors SET {column} = :v WHERE visitors.id = :s",)
        for column in _VISITOR_COLUMNS
    },
    "name": (
        "UPDATE visitors SET name = :v WHERE visitors.id = :s",
        "UPDATE orders SET billing_name = :v WHERE orders.buyer_id = :s",
        f"UPDATE payments SET account_holder = :v WHERE {_THEIR_PAYMENTS}",
        f"UPDATE tickets SET attendee_name = :v WHERE {_THEIR_TICKETS}",
        "UPDATE support_mails SET from_name = :v WHERE support_mails.visitor_id = :s",
    ),
    "email": (
        "UPDATE visitors SET email = :v WHERE visitors.id = :s",
        "UPDATE orders SET billing_email = :v WHERE orders.buyer_id = :s",
        f"UPDATE tickets SET attendee_email = :v WHERE {_THEIR_TICKETS}",
        "UPDATE support_mails SET from_email = :v WHERE support_mails.visitor_id = :s",
    ),
    "bank_account": (f"UPDATE payments SET bank_account = :v WHERE {_THEIR_PAYMENTS}",),
}


def _instant(value: object, what: str) -> int:
    """``value`` (an aware datetime) in the shop's unit, or ValidationError naming ``what``."""
    if not isinstance(value, datetime):
        msg = f"{what} must be a timezone-aware datetime, got {type(value).__name__}"
        raise ValidationError(msg)
    if value.utcoffset() is None:
        msg = f"{what} is a naive datetime; give it a time zone (tzinfo=UTC)"
        raise ValidationError(msg)
    return to_micros(value)


def _lookup_id(subject: object) -> SubjectId:
    """``subject`` as a key to look up, checked only as far as a lookup needs.

    The planner reads once or twice per candidate, so the full check (which walks every
    character) is left to where a subject is built or erased: a malformed id that gets
    through here is simply not found, as the protocol asks of reading methods.
    """
    if type(subject) is str and subject:
        return SubjectId(subject)
    return subject_id(subject)  # raises ValidationError with the reason


def _names(value: object, what: str) -> frozenset[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Iterable) or not all(isinstance(item, str) for item in items):
        msg = f"{what} takes a set of strings, got {type(value).__name__}"
        raise ValidationError(msg)
    return frozenset(items)


class TicketShopHost:
    """The ticket shop's SQLite database as an :class:`avgkit.host.HostData`.

    Args:
        database: the shop's database file (opened here and closed by :meth:`close`), or an
            open :class:`sqlite3.Connection` the caller keeps and closes. On a caller's
            connection, an erasure inside the caller's transaction becomes part of it.
        inventory: the declared fields; every column the host reports is mapped to one of
            them (``name``, ``email``, ``phone``, ``street_address``, ``postcode``, ``city``,
            ``country``, ``birth_date``, ``bank_account``, ``ip_address``), and
            :meth:`subjects_with` finds them by their category.
        page_size: rows per query page of :meth:`subjects`, and per fetch of the other
            streams.

    Raises:
        PolicyError: the inventory does not declare a field the shop reports.
        StorageError: the file is missing or is not a ticket shop database.
        ValidationError: ``page_size`` is not a positive whole number.
    """

    def __init__(
        self,
        database: str | os.PathLike[str] | sqlite3.Connection,
        inventory: Inventory,
        *,
        page_size: int = 1000,
    ) -> None:
        if not isinstance(inventory, Inventory):
            msg = f"inventory must be an avgkit Inventory, got {type(inventory).__name__}"
            raise ValidationError(msg)
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            msg = "page_size must be a whole number of rows, at least 1"
            raise ValidationError(msg)
        self._inventory = inventory
        self._page = page_size
        # The category of every field key a source reports; PolicyError names a missing one.
        self._categories = {
            key: inventory.field(key).category
            for source in SOURCES.values()
            for _, key in source.values
        }
        self._lock = threading.RLock()
        self._points: sqlite3.Cursor | None = None
        self._owned = not isinstance(database, sqlite3.Connection)
        if isinstance(database, sqlite3.Connection):
            self._conn = database
            self._where = "a caller's connection"
        else:
            path = Path(database)
            self._where = path.name
            try:
                self._conn = sqlite3.connect(
                    f"{path.resolve().as_uri()}?mode=rw",
                    uri=True,
                    isolation_level=None,
                    check_same_thread=False,
                )
            except sqlite3.Error as exc:
                msg = f"cannot open the ticket shop database {path.name!r}; generate one first"
                raise StorageError(msg) from exc
        try:
            self._one("SELECT count(*) FROM visitors WHERE 0", (), "checking the schema")
            # Restrictions (Art. 18) came after the first shops were generated: add the
            # table to an older file; a no-op on a new one.
            self._all(_RESTRICTIONS_TABLE, (), "adding the restrictions table")
        except StorageError:
            self.close()
            raise

    def __repr__(self) -> str:
        return f"TicketShopHost(database={self._where!r}, page_size={self._page})"

    # -- plumbing --------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection if the host opened it (a caller's stays open)."""
        with self._lock:
            if self._points is not None:
                self._points.close()
                self._points = None
            if self._owned:
                self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @staticmethod
    def _failed(exc: sqlite3.Error, doing: str) -> StorageError:
        # SQLite's messages name tables and columns, never the values bound to a statement.
        msg = f"the ticket shop database failed while {doing}: {type(exc).__name__}: {exc}"
        return StorageError(msg)

    def _cursor(self) -> sqlite3.Cursor:
        cursor = self._conn.cursor()
        cursor.row_factory = None  # plain tuples, whatever the caller's connection uses
        return cursor

    def _all(self, sql: str, params: Any, doing: str) -> list[Any]:
        with self._lock:
            try:
                return self._point().execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._failed(exc, doing) from exc

    def _one(self, sql: str, params: Any, doing: str) -> Any:
        with self._lock:
            try:
                return self._point().execute(sql, params).fetchone()
            except sqlite3.Error as exc:
                raise self._failed(exc, doing) from exc

    def _point(self) -> sqlite3.Cursor:
        # One cursor for the queries read whole under the lock (subject(), a page): the
        # planner makes one such call per candidate, and a new cursor each time shows.
        if self._points is None:
            self._points = self._cursor()
        return self._points

    def _stream(self, sql: str, params: Any, doing: str) -> Iterator[Any]:
        """The rows of one statement, fetched a page at a time (the lock is not held between)."""
        cursor = self._cursor()
        try:
            with self._lock:
                cursor.execute(sql, params)
            while True:
                with self._lock:
                    rows = cursor.fetchmany(self._page)
                if not rows:
                    return
                yield from rows
        except sqlite3.Error as exc:
            raise self._failed(exc, doing) from exc
        finally:
            cursor.close()

    @contextmanager
    def _transaction(self, doing: str) -> Iterator[sqlite3.Cursor]:
        """One transaction (a savepoint: inside a caller's transaction, part of it)."""
        with self._lock:
            cursor = self._cursor()
            try:
                cursor.execute(f"SAVEPOINT {_SAVEPOINT}")
                try:
                    yield cursor
                except BaseException:
                    cursor.execute(f"ROLLBACK TO {_SAVEPOINT}")
                    cursor.execute(f"RELEASE {_SAVEPOINT}")
                    raise
                cursor.execute(f"RELEASE {_SAVEPOINT}")
            except sqlite3.Error as exc:
                raise self._failed(exc, doing) from exc
            finally:
                cursor.close()

    @staticmethod
    def _subject(row: tuple[Any, ...]) -> HostSubject:
        # One per row of a long answer: the columns are unpacked by name, no loop.
        sid, kind, contract_end, purchase, login, newsletter_read = row
        activity = {}
        if contract_end is not None:
            activity[CONTRACT_END] = from_micros(contract_end)
        if purchase is not None:
            activity["purchase"] = from_micros(purchase)
        if login is not None:
            activity["login"] = from_micros(login)
        if newsletter_read is not None:
            activity["newsletter_read"] = from_micros(newsletter_read)
        return HostSubject(id=sid, kind=kind, last_activity=activity)

    def _record(
        self, source: _Source, row: tuple[Any, ...], fields: tuple[tuple[str, str], ...]
    ) -> HostRecord:
        key, at, *values = row
        return HostRecord(
            source=source.name,
            key=key,
            values={
                field: value
                for (_, field), value in zip(fields, values, strict=True)
                if value is not None
            },
            at=None if at is None else from_micros(at),
            fiscal=source.fiscal,
        )

    # -- HostData --------------------------------------------------------------------------

    @property
    def capabilities(self) -> HostCapabilities:
        """The fast paths (one statement each) and the activity types the shop records."""
        # attrs' optional(frozenset) converter leaves mypy an unsolved element type.
        return HostCapabilities(
            inactive_since=True,
            last_active_before=True,
            activity_types=ACTIVITY_TYPES,
        )

    def subjects(self) -> Iterator[HostSubject]:
        """Every visitor (by id), then every attendee who is not a visitor, a page at a time.

        Each page is its own query after the last key seen, so a long walk holds no
        transaction open and sees rows added or erased meanwhile as a key-ordered scan would.
        """
        sql = (
            f"SELECT {_SUBJECT_COLUMNS} FROM visitors "
            "WHERE visitors.id > ? ORDER BY visitors.id LIMIT ?"
        )
        after = ""
        while True:
            rows = self._all(sql, (after, self._page), "listing the visitors")
            yield from map(self._subject, rows)
            if len(rows) < self._page:
                break
            after = rows[-1][0]
        after = ""
        while True:
            rows = self._all(_ATTENDEE_PAGE, (after, self._page), "listing the attendees")
            for (sid,) in rows:
                yield HostSubject(id=sid, kind=SubjectKind.ATTENDEE)
            if len(rows) < self._page:
                break
            after = rows[-1][0]

    def subject(self, subject: SubjectId) -> HostSubject | None:
        """One subject with its last activity per type (index lookups only), or ``None``."""
        sid = _lookup_id(subject)
        row = self._one(
            f"SELECT {_SUBJECT_COLUMNS} FROM visitors WHERE visitors.id = ?",
            (sid,),
            "reading a subject",
        )
        if row is not None:
            return self._subject(row)
        named = self._one(
            "SELECT 1 FROM tickets WHERE tickets.attendee_id = ? LIMIT 1",
            (sid,),
            "reading a subject",
        )
        return None if named is None else HostSubject(id=sid, kind=SubjectKind.ATTENDEE)

    def event_dates(
        self, subject: SubjectId, *, after: datetime | None = None
    ) -> tuple[datetime, ...]:
        """When the performances of the subject's tickets start (bought or attended), sorted."""
        params = {
            "s": _lookup_id(subject),
            "after": _NEVER if after is None else _instant(after, "after"),
        }
        rows = self._all(_EVENT_DATES, params, "reading event dates")
        return tuple(from_micros(at) for (at,) in rows)

    def records(self, subject: SubjectId) -> Iterator[HostRecord]:
        """The subject's records, source by source; a shared ticket shows only their part."""
        params = {"s": subject_id(subject)}
        for source in _SUBJECT_SOURCES:
            sql = _TICKET_RECORDS if source.name == "tickets" else source.select(source.mine)
            for row in self._stream(sql, params, f"reading {source.name}"):
                yield self._record(source, row, source.values)

    def anonymise(self, subject: SubjectId) -> HostErasure:
        """Set the subject's personal columns to NULL everywhere; every row stays.

        In one transaction. A ticket naming the subject as attendee loses the attendee's
        name and e-mail; the buyer's order keeps theirs.
        """
        params = {"s": subject_id(subject)}
        with self._transaction("anonymising a subject") as cursor:
            changed = sum(cursor.execute(sql, params).rowcount for sql in _ANONYMISE)
        return HostErasure(anonymised=changed)

    def delete(self, subject: SubjectId) -> HostErasure:
        """Delete the subject and their records; keep orders and payments without their values.

        In one transaction: the visitor row, their logins, newsletter reads, waiting-list
        entries and support mail go, and so do their orders' tickets unless a ticket names
        another attendee; orders and payments (fiscal) keep the buyer reference, the amounts
        and the dates. As an attendee on someone else's order, the subject is taken off the
        ticket, which stays with the buyer.
        """
        params = {"s": subject_id(subject)}
        anonymised = deleted = 0
        with self._transaction("deleting a subject") as cursor:
            for sql, keeps in _DELETE:
                count = cursor.execute(sql, params).rowcount
                if keeps:
                    anonymised += count
                else:
                    deleted += count
        return HostErasure(anonymised=anonymised, deleted=deleted)

    def rectify(self, subject: SubjectId, changes: Mapping[str, Any]) -> int:
        """Correct the subject's own values of ``changes``' fields, in one transaction.

        The visitor row, the billing details of their orders and their name and e-mail
        where a ticket names them as attendee; a buyer's ticket naming someone else keeps
        that person's values. Returns the rows changed.

        Raises:
            ValidationError: a field the shop does not keep (named, never its value).
        """
        unknown = sorted(set(changes) - set(_RECTIFY))
        if unknown:
            msg = (
                f"the ticket shop keeps no field {unknown[0]!r} to rectify; "
                f"it keeps {sorted(_RECTIFY)}"
            )
            raise ValidationError(msg)
        sid = subject_id(subject)
        changed = 0
        with self._transaction("rectifying a subject") as cursor:
            for field, value in changes.items():
                for sql in _RECTIFY[field]:
                    changed += cursor.execute(sql, {"s": sid, "v": value}).rowcount
        return changed

    def restrict(self, subject: SubjectId, *, restricted: bool) -> None:
        """Mark the visitor's processing restricted (Art. 18), or lift it; idempotent."""
        sid = subject_id(subject)
        with self._transaction("restricting a subject") as cursor:
            if restricted:
                cursor.execute(
                    "INSERT OR IGNORE INTO restrictions (visitor_id) VALUES (:s)", {"s": sid}
                )
            else:
                cursor.execute("DELETE FROM restrictions WHERE visitor_id = :s", {"s": sid})

    def restricted(self, subject: SubjectId | str) -> bool:
        """Whether the visitor's processing is restricted (what the shop's mailings check)."""
        row = self._one(
            "SELECT 1 FROM restrictions WHERE visitor_id = ?",
            (subject_id(subject),),
            "reading a restriction",
        )
        return row is not None

    def subjects_with(
        self, categories: frozenset[str], *, since: datetime, until: datetime
    ) -> Iterator[SubjectId]:
        """The subjects with a value of ``categories`` in a record made by ``until``, once each.

        One statement (a UNION over the sources holding such columns). The shop does not
        remember when values were erased, so ``since`` leaves nobody out.
        """
        wanted = _names(categories, "categories")
        _instant(since, "since")
        params = {"until": _instant(until, "until")}
        parts = []
        for source in SOURCES.values():
            columns = [expr for expr, key in source.values if self._categories[key] in wanted]
            if source.owner is None or not columns:
                continue
            parts.append(
                f"SELECT {source.owner} FROM {source.table} {source.joins} "
                f"WHERE {source.owner} IS NOT NULL AND {source.at} <= :until "
                f"AND ({source.where}) AND {source.any_set(columns)}"
            )
        if not parts:
            return
        for (sid,) in self._stream(" UNION ".join(parts), params, "finding data holders"):
            yield SubjectId(sid)

    def collected_before(
        self, sources: frozenset[str], *, before: datetime
    ) -> Iterator[HostRecord]:
        """The records of ``sources`` made before ``before`` that still hold personal values.

        A fiscal record stripped already (its amounts kept) is not listed again.
        """
        wanted = _names(sources, "sources")
        params = {"before": _instant(before, "before")}
        for name in sorted(wanted & SOURCES.keys()):
            source = SOURCES[name]
            condition = f"{source.at} < :before"
            if source.fiscal and source.strip:
                condition = f"{condition} AND {source.any_set(source.strip)}"
            sql = source.select(condition)
            for row in self._stream(sql, params, f"listing {name}"):
                yield self._record(source, row, source.values)

    def erase_record(self, source: str, key: str, *, keep: bool = False) -> HostErasure:
        """Delete one record, or with ``keep`` (always, for orders and payments) strip it.

        A record that is gone, or an unknown source or key, reports zero.
        """
        spec = SOURCES.get(source) if isinstance(source, str) else None
        if spec is None or not isinstance(key, str):
            return HostErasure()
        if spec.numeric_key:
            if not (key.isascii() and key.isdigit()):
                return HostErasure()
            lookup: int | str = int(key)
        else:
            lookup = key
        condition = f"{spec.table}.{spec.key} = :key"
        with self._transaction(f"erasing a record of {spec.name}") as cursor:
            if keep or spec.fiscal:
                if not spec.strip:
                    return HostErasure()
                return HostErasure(
                    anonymised=cursor.execute(spec.strip_sql(condition), {"key": lookup}).rowcount
                )
            deleted = cursor.execute(
                f"DELETE FROM {spec.table} WHERE {condition} AND ({spec.where})",
                {"key": lookup},
            ).rowcount
        return HostErasure(deleted=deleted)

    def upcoming(
        self, subjects: Sequence[SubjectId], *, after: datetime
    ) -> dict[SubjectId, datetime]:
        """Each subject's last performance after ``after``, for a batch: one statement."""
        ids = [_lookup_id(subject) for subject in subjects]
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        sql = (
            "SELECT orders.buyer_id, max(performances.starts_at) FROM orders "
            "JOIN tickets ON tickets.order_id = orders.id "
            "JOIN performances ON performances.id = tickets.performance_id "
            f"WHERE orders.buyer_id IN ({marks}) AND performances.starts_at > ? "
            "GROUP BY orders.buyer_id "
            "UNION ALL SELECT tickets.attendee_id, max(performances.starts_at) FROM tickets "
            "JOIN performances ON performances.id = tickets.performance_id "
            f"WHERE tickets.attendee_id IN ({marks}) AND performances.starts_at > ? "
            "GROUP BY tickets.attendee_id"
        )
        at = _instant(after, "after")
        found: dict[SubjectId, datetime] = {}
        for sid, starts in self._all(sql, (*ids, at, *ids, at), "reading upcoming events"):
            when = from_micros(starts)
            key = SubjectId(sid)
            if key not in found or when > found[key]:
                found[key] = when
        return found

    def last_active_before(
        self,
        activity_types: frozenset[str],
        *,
        before: datetime,
        kinds: frozenset[SubjectKind] | None = None,
    ) -> Iterator[tuple[SubjectId, SubjectKind, datetime]]:
        """``(id, kind, last)`` of the visitors (of ``kinds``) last active before ``before``.

        The statement of :meth:`inactive_since`, reading only the latest instant of the
        types asked (``max()`` over their probes, in SQL), and one conversion per row.
        Attendees who are not visitors never did anything, so they are never listed.
        """
        types = _names(activity_types, "activity_types")
        lasts = [
            f"coalesce({expression}, :never)"
            for kind, expression in _LAST_OF.items()
            if kind in types
        ]
        wanted = None if kinds is None else {SubjectKind(kind).value for kind in kinds}
        visitor_kinds = None if wanted is None else sorted(wanted - {"attendee"})
        params: dict[str, object] = {"before": _instant(before, "before"), "never": _NEVER}
        if not lasts or visitor_kinds == []:
            return
        idle = " AND ".join(
            f"NOT {condition}" for kind, condition in _ACTIVE_SINCE.items() if kind in types
        )
        if visitor_kinds is not None:
            names = ", ".join(f":k{n}" for n in range(len(visitor_kinds)))
            idle = f"visitors.kind IN ({names}) AND {idle}"
            params.update({f"k{n}": kind for n, kind in enumerate(visitor_kinds)})
        last = f"max({', '.join(lasts)})" if len(lasts) > 1 else lasts[0]
        sql = f"SELECT visitors.id, visitors.kind, {last} FROM visitors WHERE {idle}"
        kind_of = _KINDS
        for sid, kind, at in self._stream(sql, params, "finding inactive subjects"):
            if at != _NEVER:  # never active: nothing to count a period from
                yield sid, kind_of[kind], from_micros(at)

    def inactive_since(
        self,
        activity_types: frozenset[str],
        *,
        before: datetime,
        kinds: frozenset[SubjectKind] | None = None,
    ) -> Iterator[HostSubject]:
        """The subjects (of ``kinds``) with none of ``activity_types`` since ``before``.

        One statement: per visitor, one index probe per activity type asked (no Python loop
        over subjects), with the last activity per type as :meth:`subject` reports it;
        attendees who are not visitors have no activity, so they are always listed. Types
        the shop does not record count as never done.
        """
        types = _names(activity_types, "activity_types")
        wanted = None if kinds is None else {SubjectKind(kind).value for kind in kinds}
        params: dict[str, object] = {"before": _instant(before, "before")}
        active = [condition for kind, condition in _ACTIVE_SINCE.items() if kind in types]
        idle = " AND ".join(f"NOT {condition}" for condition in active) or "1"
        parts = []
        visitor_kinds = None if wanted is None else sorted(wanted - {"attendee"})
        if visitor_kinds is None or visitor_kinds:
            where = idle
            if visitor_kinds is not None:
                names = ", ".join(f":k{n}" for n in range(len(visitor_kinds)))
                where = f"visitors.kind IN ({names}) AND {idle}"
                params.update({f"k{n}": kind for n, kind in enumerate(visitor_kinds)})
            parts.append(f"SELECT {_SUBJECT_COLUMNS} FROM visitors WHERE {where}")
        if wanted is None or "attendee" in wanted:
            parts.append(
                f"SELECT attendee_id, 'attendee', NULL, NULL, NULL, NULL FROM ({_ATTENDEES})"
            )
        if not parts:
            return
        sql = " UNION ALL ".join(parts)
        for row in self._stream(sql, params, "finding inactive subjects"):
            yield self._subject(row)
