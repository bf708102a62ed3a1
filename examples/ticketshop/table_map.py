"""The ticket shop as a table map: its :class:`avgkit.host.HostData` without hand-written SQL.

:data:`TABLE_MAP` declares what :class:`ticketshop.TicketShopHost` implements by hand, over
the same tables (:mod:`ticketshop.schema`); ``table_map.toml`` beside this file says the same
in a policy file's ``host`` section. :func:`metadata` gives the shop's tables as SQLAlchemy
metadata, to create them in PostgreSQL or MariaDB, and :func:`copy_shop` copies a shop's
rows there.

.. code-block:: python

    import sqlalchemy as sa
    from avgkit.host.sql import SqlHostData
    from avgkit.presets import ticketing
    from ticketshop.table_map import TABLE_MAP

    engine = sa.create_engine("sqlite:///shop.db")
    host = SqlHostData(engine, TABLE_MAP, ticketing.inventory())
"""

from __future__ import annotations

import sqlite3
from typing import Final

import sqlalchemy as sa

from avgkit.host.sql import EventLink, Person, Source, Subjects, TableMap, Timestamps

__all__ = ["TABLE_MAP", "copy_shop", "metadata"]

_VISITOR_FIELDS: Final = (
    "name",
    "email",
    "phone",
    "street_address",
    "postcode",
    "city",
    "country",
    "birth_date",
)


def _mail(name: str, *, bank_details: bool) -> Source:
    columns = {"from_name": "name", "from_email": "email"}
    if bank_details:
        columns["body"] = "bank_account"  # where the bank details are
    return Source(
        name=name,
        table="support_mails",
        link="visitor_id -> visitors.id",
        at="received_at",
        columns=columns,
        where={"has_bank_details": int(bank_details)},
    )


TABLE_MAP: Final = TableMap(
    timestamps=Timestamps.EPOCH_MICROS,
    subjects=Subjects(
        table="visitors",
        key="id",
        kind_column="kind",
        restriction_table="restrictions.visitor_id",
    ),
    sources=(
        Source(
            name="visitors",
            at="created_at",
            columns={column: column for column in _VISITOR_FIELDS},
            activity={"contract_ended_at": "contract_end"},
        ),
        Source(
            name="orders",
            key="code",
            link="buyer_id -> visitors.id",
            at="created_at",
            columns={"billing_name": "name", "billing_email": "email", "ip_address": "ip_address"},
            activity={"created_at": "purchase"},
            fiscal=True,
        ),
        Source(
            name="tickets",
            key="barcode",
            link="order_id -> orders.id",
            at="orders.created_at",
            columns={"attendee_name": "name", "attendee_email": "email"},
            people=(Person(column="attendee_id", columns=("attendee_name", "attendee_email")),),
            events=EventLink(link="performance_id -> performances.id", starts_at="starts_at"),
        ),
        Source(
            name="payments",
            link="order_id -> orders.id",
            at="paid_at",
            columns={"account_holder": "name", "bank_account": "bank_account"},
            fiscal=True,
        ),
        Source(name="logins", link="visitor_id -> visitors.id", at="at", activity={"at": "login"}),
        Source(
            name="newsletter_reads",
            link="visitor_id -> visitors.id",
            at="at",
            activity={"at": "newsletter_read"},
        ),
        Source(name="waiting_list", link="visitor_id -> visitors.id", at="added_at"),
        _mail("support_mail", bank_details=False),
        _mail("support_mail_bank_details", bank_details=True),
        Source(
            name="camera_inside",
            table="camera_footage",
            at="recorded_at",
            where={"camera": "inside"},
        ),
        Source(
            name="camera_outside",
            table="camera_footage",
            at="recorded_at",
            where={"camera": "outside"},
        ),
    ),
    not_personal={
        "support_mails.has_bank_details": "a flag saying whether the body holds bank details",
    },
)
"""The shop's tables, as the hand-written ``TicketShopHost`` reads them."""


def metadata(*, enforced_keys: bool = True) -> sa.MetaData:
    """The shop's tables for another database (PostgreSQL, MariaDB), as in ``schema.py``.

    Texts that are keys or short codes become ``VARCHAR`` (MariaDB indexes no ``TEXT``),
    instants ``BIGINT`` microseconds. Those databases enforce foreign keys, so an order's
    reference to its buyer is ``ON DELETE SET NULL``: the order (a fiscal record) outlives
    the buyer's deletion. ``enforced_keys=False`` declares no foreign keys at all.
    """
    md = sa.MetaData()
    big = sa.BigInteger

    def ref(target: str, ondelete: str | None = None) -> list[sa.ForeignKey]:
        return [sa.ForeignKey(target, ondelete=ondelete)] if enforced_keys else []

    def text(length: int = 200) -> sa.String:
        return sa.String(length)

    sa.Table(
        "events",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("title", text(), nullable=False),
    )
    sa.Table(
        "performances",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("event_id", sa.Integer, *ref("events.id"), nullable=False),
        sa.Column("starts_at", big, nullable=False),
    )
    sa.Table(
        "visitors",
        md,
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        *(sa.Column(c, text()) for c in _VISITOR_FIELDS),
        sa.Column("created_at", big, nullable=False),
        sa.Column("contract_ended_at", big),
    )
    sa.Table(
        "orders",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("buyer_id", sa.String(32), *ref("visitors.id", ondelete="SET NULL")),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("created_at", big, nullable=False),
        sa.Column("total_cents", sa.Integer, nullable=False),
        sa.Column("billing_name", text()),
        sa.Column("billing_email", text()),
        sa.Column("ip_address", text(64)),
        sa.Index("orders_buyer", "buyer_id", "created_at"),
    )
    sa.Table(
        "tickets",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("order_id", sa.Integer, *ref("orders.id"), nullable=False),
        sa.Column("performance_id", sa.Integer, *ref("performances.id"), nullable=False),
        sa.Column("barcode", sa.String(32), nullable=False, unique=True),
        sa.Column("price_cents", sa.Integer, nullable=False),
        sa.Column("attendee_id", sa.String(32)),
        sa.Column("attendee_name", text()),
        sa.Column("attendee_email", text()),
        sa.Index("tickets_order", "order_id", "performance_id"),
        sa.Index("tickets_attendee", "attendee_id", "performance_id"),
    )
    sa.Table(
        "payments",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("order_id", sa.Integer, *ref("orders.id"), nullable=False),
        sa.Column("amount_cents", sa.Integer, nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("account_holder", text()),
        sa.Column("bank_account", text(64)),
        sa.Column("paid_at", big, nullable=False),
        sa.Index("payments_order", "order_id"),
    )
    for name in ("logins", "newsletter_reads"):
        sa.Table(
            name,
            md,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("visitor_id", sa.String(32), *ref("visitors.id"), nullable=False),
            sa.Column("at", big, nullable=False),
            sa.Index(f"{name}_visitor", "visitor_id", "at"),
        )
    sa.Table(
        "waiting_list",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("visitor_id", sa.String(32), *ref("visitors.id"), nullable=False),
        sa.Column("performance_id", sa.Integer, *ref("performances.id"), nullable=False),
        sa.Column("added_at", big, nullable=False),
        sa.Index("waiting_list_visitor", "visitor_id"),
    )
    sa.Table(
        "support_mails",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("visitor_id", sa.String(32), *ref("visitors.id")),
        sa.Column("received_at", big, nullable=False),
        sa.Column("from_name", text()),
        sa.Column("from_email", text()),
        sa.Column("body", sa.Text),
        sa.Column("has_bank_details", sa.Integer, nullable=False, server_default="0"),
        sa.Index("support_mails_visitor", "visitor_id"),
    )
    sa.Table(
        "camera_footage",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("camera", sa.String(16), nullable=False),
        sa.Column("recorded_at", big, nullable=False),
        sa.Column("file", text(), nullable=False),
    )
    sa.Table(
        "restrictions",
        md,
        sa.Column("visitor_id", sa.String(32), primary_key=True),
    )
    return md


def copy_shop(source: sqlite3.Connection, target: sa.Connection, *, batch: int = 5000) -> int:
    """Copy every row of a shop's SQLite file into ``metadata()``'s tables on ``target``.

    The tables must exist (``metadata().create_all(engine)``) and be empty. Returns the
    rows copied. Parents are copied before the rows referring to them.
    """
    copied = 0
    for table in metadata().sorted_tables:
        names = [column.name for column in table.columns]
        target_table = sa.table(table.name, *(sa.column(n) for n in names))
        cursor = source.execute(f"SELECT {', '.join(names)} FROM {table.name}")  # noqa: S608
        while rows := cursor.fetchmany(batch):
            target.execute(
                sa.insert(target_table), [dict(zip(names, row, strict=True)) for row in rows]
            )
            copied += len(rows)
    return copied
