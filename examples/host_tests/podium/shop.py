"""The shop: its tables, and the calls its pages make into avgkit.

Every instant the shop writes comes from the kit's clock, so a test that moves the clock
(the plugin's ``avgkit_clock``) moves the shop's "now" with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

from avgkit import Evidence, Inventory, Kit
from avgkit.consent import Channel, ConsentEvent
from avgkit.erasure import ErasureOutcome
from avgkit.host.sql import SqlHostData, table_map_from_file
from avgkit.retention import ExecutionSummary, RetentionPolicy, policy_from_file

__all__ = [
    "NEWSLETTER_BOX",
    "POLICY",
    "SURVEY_OPT_OUT",
    "Shop",
    "create_shop",
    "host_data",
    "load_inventory",
    "load_retention_policy",
    "open_shop",
]

POLICY: Final = Path(__file__).with_name("policy.toml")
"""The venue's policy file."""

NEWSLETTER_BOX: Final = "Ja, stuur mij de nieuwsbrief met het programma van Podium Zuid."
"""The exact wording beside the (unticked) newsletter box at checkout."""

SURVEY_OPT_OUT: Final = "Nee, ik wil na mijn bezoek geen vraag over hoe het was."
"""The exact wording of the "no survey after my visit" box on the my-account page."""

NOTICE_VERSION: Final = "2025-01"
"""The version of the privacy statement the pages link to."""

_TABLES: Final = (
    """CREATE TABLE IF NOT EXISTS visitors (
        id TEXT PRIMARY KEY, name TEXT, email TEXT,
        created_at INTEGER NOT NULL, last_login INTEGER
    )""",
    """CREATE TABLE IF NOT EXISTS orders (
        id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE,
        buyer_id TEXT NOT NULL REFERENCES visitors (id),
        billing_name TEXT, total_cents INTEGER NOT NULL, created_at INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS performances (
        id INTEGER PRIMARY KEY, title TEXT NOT NULL, starts_at INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS tickets (
        barcode TEXT PRIMARY KEY,
        order_id INTEGER NOT NULL REFERENCES orders (id),
        performance_id INTEGER NOT NULL REFERENCES performances (id)
    )""",
)


def load_inventory() -> Inventory:
    """The venue's inventory, from its policy file."""
    return Inventory.from_file(POLICY)


def load_retention_policy() -> RetentionPolicy:
    """The venue's retention rules, from its policy file."""
    return policy_from_file(POLICY)


def create_shop(path: Path) -> sa.Engine:
    """An engine on the shop's SQLite file, its tables created if missing."""
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        for statement in _TABLES:
            conn.execute(sa.text(statement))
    return engine


def host_data(engine: sa.Engine, inventory: Inventory) -> SqlHostData:
    """Avgkit's view of the shop's tables, from the policy file's table map."""
    return SqlHostData(engine, table_map_from_file(POLICY), inventory)


def _seconds(when: datetime) -> int:
    return int(when.timestamp())


class Shop:
    """What the shop's pages do with personal data, through one kit.

    Args:
        engine: the shop's database.
        kit: avgkit, opened with :func:`host_data` over the same engine as its host.
    """

    def __init__(self, engine: sa.Engine, kit: Kit) -> None:
        self.engine = engine
        self.kit = kit

    def __repr__(self) -> str:
        return f"Shop({self.kit!r})"

    def _evidence(self, wording: str, channel: Channel, order: str | None = None) -> Evidence:
        return Evidence.from_wording(
            wording, channel=channel, notice_version=NOTICE_VERSION, order_ref=order
        )

    # ------------------------------------------------------------------ the programme

    def add_performance(self, title: str, starts_at: datetime) -> int:
        """Put a performance on sale; return its id."""
        with self.engine.begin() as conn:
            done = conn.execute(
                sa.text("INSERT INTO performances (title, starts_at) VALUES (:t, :s)"),
                {"t": title, "s": _seconds(starts_at)},
            )
            number = done.lastrowid
        if number is None:  # pragma: no cover - SQLite always reports it
            msg = "the database did not report the performance's id"
            raise RuntimeError(msg)
        return int(number)

    # ------------------------------------------------------------------ checkout

    def checkout(
        self,
        visitor: str,
        *,
        name: str,
        email: str,
        order: str,
        cents: int,
        performance: int | None = None,
        newsletter: bool = False,
    ) -> None:
        """Store an order (and its ticket); record newsletter consent if the box was ticked.

        The order is committed first and the consent recorded after it, so that a checkout
        that fails before the commit never leaves a consent behind.
        """
        now = _seconds(self.kit.clock.now())
        with self.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO visitors (id, name, email, created_at, last_login) "
                    "VALUES (:v, :n, :e, :now, :now) "
                    "ON CONFLICT (id) DO UPDATE SET last_login = :now"
                ),
                {"v": visitor, "n": name, "e": email, "now": now},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO orders (code, buyer_id, billing_name, total_cents, created_at) "
                    "VALUES (:o, :v, :n, :c, :now)"
                ),
                {"o": order, "v": visitor, "n": name, "c": cents, "now": now},
            )
            if performance is not None:
                conn.execute(
                    sa.text(
                        "INSERT INTO tickets (barcode, order_id, performance_id) "
                        "SELECT :b, id, :p FROM orders WHERE code = :o"
                    ),
                    {"b": f"{order}-1", "p": performance, "o": order},
                )
        if newsletter:
            evidence = self._evidence(NEWSLETTER_BOX, Channel.WEBSHOP, order)
            self.kit.consent.give(visitor, "newsletter", evidence)

    def log_in(self, visitor: str) -> None:
        """Remember the visitor's login (retention counts inactivity from it)."""
        with self.engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE visitors SET last_login = :now WHERE id = :v"),
                {"now": _seconds(self.kit.clock.now()), "v": visitor},
            )

    # ------------------------------------------------------------------ my account

    def consent_history(self, visitor: str) -> list[ConsentEvent]:
        """What the my-account page lists: every consent event, oldest first."""
        return list(self.kit.consent.history(visitor))

    def stop_newsletter(self, visitor: str) -> None:
        """The "stop the newsletter" button."""
        evidence = self._evidence(NEWSLETTER_BOX, Channel.WEBSHOP)
        self.kit.consent.withdraw(visitor, "newsletter", evidence)

    def no_survey(self, visitor: str) -> None:
        """The "no question after my visit" box: an objection (Art. 21)."""
        self.kit.consent.object(
            visitor, "visit_survey", self._evidence(SURVEY_OPT_OUT, Channel.WEBSHOP)
        )

    def download(self, visitor: str) -> dict[str, Any]:
        """The "download my data" button: the Art. 15 export as the JSON the visitor gets."""
        parsed: dict[str, Any] = json.loads(self.kit.dsar.export(visitor).to_json())
        return parsed

    def delete_account(self, visitor: str) -> ErasureOutcome:
        """The "delete my account" button (Art. 17): deferred while a visit is to come."""
        return self.kit.erasure.erase(visitor)

    # ------------------------------------------------------------------ mailings

    def mailing_list(self) -> list[tuple[str, str]]:
        """Who gets the newsletter: (visitor, e-mail) for everyone who may receive it."""
        allowed = sorted(self.kit.consent.audience("newsletter"))
        if not allowed:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT id, email FROM visitors WHERE email IS NOT NULL "
                    "AND id IN (SELECT value FROM json_each(:ids)) ORDER BY id"
                ),
                {"ids": json.dumps(allowed)},
            ).all()
        return [(str(row[0]), str(row[1])) for row in rows]

    # ------------------------------------------------------------------ every night

    def nightly_cleanup(self) -> ExecutionSummary:
        """Plan the retention rules at the kit's now and carry the plan out."""
        return self.kit.retention.execute(self.kit.retention.plan())

    def visitors(self) -> list[str]:
        """The visitors the shop holds (for its own pages and tests)."""
        with self.engine.connect() as conn:
            return [str(r[0]) for r in conn.execute(sa.text("SELECT id FROM visitors ORDER BY id"))]

    def orders(self) -> list[tuple[str, str | None, int]]:
        """Every order as (code, billing name, total): what the bookkeeping keeps."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT code, billing_name, total_cents FROM orders ORDER BY code")
            ).all()
        return [(str(r[0]), None if r[1] is None else str(r[1]), int(r[2])) for r in rows]


@contextmanager
def open_shop(path: Path, store_url: str) -> Iterator[Shop]:
    """How the shop starts in production: its database, and avgkit on ``store_url``."""
    engine = create_shop(path)
    inventory = load_inventory()
    try:
        with Kit.open(
            store_url,
            inventory=inventory,
            host=host_data(engine, inventory),
            retention_policy=load_retention_policy(),
        ) as kit:
            yield Shop(engine, kit)
    finally:
        engine.dispose()
