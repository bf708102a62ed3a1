"""A deterministic generator of ticket-shop databases, for examples, tests and benchmarks.

The same ``visitors``, ``now`` and ``seed`` always give the same database. Activity spreads
over the eight years before ``now``; some performances are still to come. The mix:

* accounts (about 83%): a login when they registered and more while they were active (about
  half are still active, the others stopped at some point), web orders, newsletter reads for
  about half of them, a waiting-list entry for a few;
* guests (about 15%): a quick registration at the box office, with one order for a single
  performance;
* relations (about 2%): business contacts (press, schools, funds) whose contract ended;
* about 10% of the orders name an attendee on one ticket: the buyer's companion, the same
  person on each of that buyer's orders (``attendee_id`` is ``'a'`` and the buyer's number);
* support mail from about 3% of the visitors (a quarter with bank details) and from people
  the shop does not know, and two months of camera footage.

Every person, address and bank account is made up.

As a script::

    python examples/ticketshop/generate.py --visitors 100000 --out build/shop.db
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import multiprocessing
import os
import random
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from math import log as _log
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final, TypeVar

import attrs

if __package__ in {None, ""}:  # run as a script: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ticketshop.schema import create_indexes, create_tables, to_micros

__all__ = ["DEFAULT_NOW", "DEFAULT_SEED", "Generated", "generate", "main"]

_T = TypeVar("_T")

DEFAULT_SEED: Final = 20240601
"""The seed :func:`generate` uses unless told otherwise."""
DEFAULT_NOW: Final = datetime(2025, 6, 1, 12, tzinfo=UTC)
"""The instant the command line generates "at" unless given ``--now``."""
BATCH: Final = 50_000
"""Rows per table buffered before they are written with one ``executemany``."""
PARALLEL_FROM: Final = 50_000
"""From this many visitors on, a second process generates while the first writes."""

_SECOND: Final = 1_000_000
_HOUR: Final = 3_600 * _SECOND
_DAY: Final = 24 * _HOUR
_YEAR: Final = 365 * _DAY + 6 * _HOUR
_SPAN: Final = 8 * _YEAR  # how far back activity goes
_AHEAD: Final = 180 * _DAY  # how far ahead performances are planned

_FIRST: Final = (
    "Anna", "Bram", "Carla", "Daan", "Emma", "Finn", "Greta", "Hugo", "Iris", "Jesse", "Kim",
    "Lars", "Maud", "Noah", "Olga", "Pieter", "Quinten", "Roos", "Sem", "Tess", "Umut", "Vera",
    "Wout", "Xander", "Yara", "Zoë", "Lotte", "Milan", "Fleur", "Ruben", "Sanne", "Thijs",
    "Elif", "Mohamed", "Sophie", "Luuk", "Julia", "Jan", "Fatima", "Lieke",
)  # fmt: skip
_LAST: Final = (
    "de Vries", "Jansen", "Peeters", "Bakker", "Visser", "Smit", "Meijer", "de Boer",
    "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Dijk", "Claes", "Dekker",
    "van Leeuwen", "Brouwer", "de Wit", "Dijkstra", "Wouters", "Janssens", "Maes", "Yilmaz",
    "El Amrani", "Kramer", "Prins", "Huisman", "Postma",
)  # fmt: skip
_STREETS: Final = (
    "Herestraat", "Oosterstraat", "Vismarkt", "Zuiderdiep", "Kerkstraat", "Dorpsstraat",
    "Stationsweg", "Molenweg", "Schoolstraat", "Noorderhaven", "Meir", "Lindenlaan",
)  # fmt: skip
_CITIES: Final = (
    "Groningen", "Haren", "Assen", "Leeuwarden", "Zwolle", "Amsterdam", "Utrecht", "Delfzijl",
    "Hoogezand", "Winschoten", "Antwerpen", "Emmen",
)  # fmt: skip
_DOMAINS: Final = ("example.nl", "example.com", "example.be", "mail.example", "post.example")
_WORK_DOMAINS: Final = ("pers.example", "school.example", "fonds.example")
_BANKS: Final = ("ABNA", "INGB", "RABO", "TRIO", "SNSB", "ASNB", "KNAB", "BUNQ")
_TITLES: Final = (
    "Hamlet", "De Gebroeders Karamazov", "Noorderzon", "Jazz in de Oosterpoort",
    "Het Zwanenmeer", "Stand-up Avond", "Kamermuziek", "Eurosonic Showcase", "De Storm",
    "Familievoorstelling", "Orkest van het Noorden", "Dansnacht",
)  # fmt: skip
_PRICES: Final = (1250, 1750, 2200, 2450, 2950, 3500, 4250)
_LETTERS: Final = tuple(chr(c) for c in range(ord("A"), ord("Z") + 1))

# The bank codes as IBAN digits (A=10 ... Z=35), for the check number.
_BANK_DIGITS: Final = {bank: "".join(str(int(c, 36)) for c in bank) for bank in _BANKS}
_LOCAL_PARTS: Final = {
    (first, last): f"{first}.{last}".lower().replace(" ", "").replace("ë", "e")
    for first in _FIRST
    for last in _LAST
}


def _cumulative(weights: Sequence[float]) -> tuple[float, ...]:
    """Cumulative weights for :meth:`_Draw.weighted` (the last bound left off)."""
    total = sum(weights)
    return tuple(itertools.accumulate(w / total for w in weights))[:-1]


_SEATS: Final = (1, 2, 3, 4)
_SEAT_BOUNDS: Final = _cumulative((35, 45, 12, 8))
_ORDERS: Final = (0, 1, 2, 3, 4, 5, 6, 8)
_ORDER_BOUNDS: Final = _cumulative((12, 30, 20, 14, 10, 6, 5, 3))


class _Draw:
    """Fast draws from one :class:`random.Random` (``randrange`` is ten times slower)."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed).random  # noqa: S311 - made-up data, not secrets

    def below(self, n: int) -> int:
        """A whole number in ``[0, n)``."""
        return int(self.random() * n)

    def between(self, low: int, high: int) -> int:
        """A whole number in ``[low, high)``."""
        return low + int(self.random() * (high - low))

    def pick(self, items: Sequence[_T]) -> _T:
        """One of ``items``."""
        return items[int(self.random() * len(items))]

    def weighted(self, items: Sequence[_T], bounds: Sequence[float]) -> _T:
        """One of ``items``, by the cumulative weights of :func:`_cumulative`."""
        return items[bisect.bisect_right(bounds, self.random())]

    def iban(self) -> str:
        """A made-up Dutch IBAN with a correct check number."""
        bank = self.pick(_BANKS)
        account = f"{self.below(10**10):010d}"
        check = 98 - int(f"{_BANK_DIGITS[bank]}{account}232100") % 97  # 232100 is "NL00"
        return f"NL{check:02d}{bank}{account}"


@attrs.frozen(kw_only=True)
class Generated:
    """What :func:`generate` wrote: the file, the rows per table, and how long it took."""

    path: Path
    rows: dict[str, int]
    seconds: float


_INSERTS: Final = {
    "events": "INSERT INTO events VALUES (?, ?)",
    "performances": "INSERT INTO performances VALUES (?, ?, ?)",
    "visitors": "INSERT INTO visitors VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "orders": "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "tickets": "INSERT INTO tickets VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "payments": "INSERT INTO payments VALUES (?, ?, ?, ?, ?, ?, ?)",
    "logins": "INSERT INTO logins (visitor_id, at) VALUES (?, ?)",
    "newsletter_reads": "INSERT INTO newsletter_reads (visitor_id, at) VALUES (?, ?)",
    "waiting_list": (
        "INSERT INTO waiting_list (visitor_id, performance_id, added_at) VALUES (?, ?, ?)"
    ),
    "support_mails": (
        "INSERT INTO support_mails (visitor_id, received_at, from_name, from_email, body, "
        "has_bank_details) VALUES (?, ?, ?, ?, ?, ?)"
    ),
    "camera_footage": "INSERT INTO camera_footage (camera, recorded_at, file) VALUES (?, ?, ?)",
}

_Rows = dict[str, list[tuple[Any, ...]]]


class _Buffers:
    """Rows per table, handed to a sink (a writer, or a pipe) a batch at a time."""

    def __init__(self, sink: Callable[[_Rows], None]) -> None:
        self._sink = sink
        self._rows: _Rows = {table: [] for table in _INSERTS}

    def adder(self, table: str) -> Callable[[tuple[Any, ...]], None]:
        """The ``append`` of ``table``'s buffer (the hot loop calls it directly)."""
        return self._rows[table].append

    def flush_if_full(self) -> None:
        """Hand the buffers on if one of them holds a batch."""
        if any(len(rows) >= BATCH for rows in self._rows.values()):
            self.flush()

    def flush(self) -> None:
        """Hand every buffered row on, and empty the buffers."""
        handed = {table: rows.copy() for table, rows in self._rows.items() if rows}
        for rows in self._rows.values():
            rows.clear()  # the same lists: the hot loop holds their appends
        if handed:
            self._sink(handed)


def _write(conn: sqlite3.Connection, rows: _Rows, counts: dict[str, int]) -> None:
    """Insert one batch of rows per table, in one transaction."""
    conn.execute("BEGIN")
    try:
        for table, batch in rows.items():
            conn.executemany(_INSERTS[table], batch)
            counts[table] += len(batch)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class _Shop:
    """The generation itself: one pass over the visitors, every draw from one ``_Draw``."""

    def __init__(self, buffers: _Buffers, draw: _Draw, now: int, visitors: int) -> None:
        self.draw = draw
        self.now = now
        self.visitors = visitors
        self.width = max(6, len(str(visitors)))
        self.buffers = buffers
        self.add_visitor = buffers.adder("visitors")
        self.add_order = buffers.adder("orders")
        self.add_ticket = buffers.adder("tickets")
        self.add_payment = buffers.adder("payments")
        self.add_login = buffers.adder("logins")
        self.add_read = buffers.adder("newsletter_reads")
        self.add_wait = buffers.adder("waiting_list")
        self.add_mail = buffers.adder("support_mails")
        self.order_id = 0
        self.ticket_id = 0
        self.starts: list[int] = []
        self.prices: list[int] = []
        self.window = 1

    # -- the programme ---------------------------------------------------------------------

    def programme(self) -> None:
        """Events with one to six performances each, from eight years ago to half a year on."""
        draw, now = self.draw, self.now
        planned: list[tuple[int, int, int]] = []  # (starts_at, event, price)
        add_event = self.buffers.adder("events")
        # At least a few hundred events, so that a performance is never far off.
        for event in range(1, max(400, self.visitors // 250) + 1):
            add_event((event, f"{draw.pick(_TITLES)} ({event})"))
            first = now - _SPAN - 60 * _DAY + draw.below(_SPAN + 60 * _DAY + _AHEAD)
            day = first - first % _DAY + 19 * _HOUR  # the evening show, 19:00 UTC
            price = draw.pick(_PRICES)
            for _ in range(draw.between(1, 7)):
                planned.append((day, event, price))
                day += draw.between(1, 4) * _DAY
        planned.sort()
        add = self.buffers.adder("performances")
        for index, (starts_at, event, price) in enumerate(planned, start=1):
            add((index, event, starts_at))
            self.starts.append(starts_at)
            self.prices.append(price)
        per_day = len(self.starts) / ((_SPAN + _AHEAD) / _DAY)
        self.window = max(1, round(45 * per_day))  # tickets are bought up to ~6 weeks ahead

    def performance_after(self, at: int) -> int:
        """The index of a performance starting after ``at`` (within about six weeks)."""
        first = bisect.bisect_right(self.starts, at)
        return min(len(self.starts) - 1, first + self.draw.below(self.window))

    # -- people ----------------------------------------------------------------------------

    def person(self, number: int) -> tuple[str, str]:
        """A made-up name and a unique e-mail address."""
        draw = self.draw
        first, last = draw.pick(_FIRST), draw.pick(_LAST)
        local = _LOCAL_PARTS[first, last]
        return f"{first} {last}", f"{local}.{number}@{draw.pick(_DOMAINS)}"

    def address(self) -> tuple[str, str, str, str]:
        """Street and number, postcode, city and country."""
        draw = self.draw
        country = "NL" if draw.random() < 0.88 else draw.pick(("BE", "DE"))  # noqa: PLR2004
        return (
            f"{draw.pick(_STREETS)} {draw.between(1, 200)}",
            f"{draw.between(1000, 10000)} {draw.pick(_LETTERS)}{draw.pick(_LETTERS)}",
            draw.pick(_CITIES),
            country,
        )

    def phone(self) -> str:
        """A made-up Dutch mobile number."""
        return f"+316{self.draw.below(10**8):08d}"

    def birth_date(self) -> str | None:
        """A birth date (ISO) for about seven in ten, else ``None``."""
        draw = self.draw
        if draw.random() < 0.3:  # noqa: PLR2004
            return None
        year, month, day = draw.between(1940, 2009), draw.between(1, 13), draw.between(1, 29)
        return f"{year}-{month:02d}-{day:02d}"

    # -- orders ----------------------------------------------------------------------------

    def order(
        self,
        buyer: str,
        number: int,
        at: int,
        performance: int,
        *,
        box_office: bool,
        person: tuple[str, str | None],
        companion: list[tuple[str, str, str | None]],
        iban: Callable[[], str],
    ) -> None:
        """One order with its tickets and its payment; maybe naming the buyer's companion."""
        draw = self.draw
        self.order_id += 1
        oid = self.order_id
        name, email = person
        single = box_office and draw.random() < 0.6  # noqa: PLR2004
        seats = 1 if single else draw.weighted(_SEATS, _SEAT_BOUNDS)
        named = draw.random() < 0.10  # noqa: PLR2004
        if named:
            seats = max(seats, 2)
        price = self.prices[performance]
        perf_id = performance + 1
        add_ticket = self.add_ticket
        for seat in range(seats):
            self.ticket_id += 1
            tid = self.ticket_id
            barcode = f"TS{tid:09d}{draw.below(100):02d}"
            if named and seat == seats - 1:
                if not companion:
                    friend, friend_email = self.person(self.visitors + number)
                    kept = friend_email if draw.random() < 0.7 else None  # noqa: PLR2004
                    companion.append((f"a{number:0{self.width}d}", friend, kept))
                aid, friend, kept = companion[0]
                add_ticket((tid, oid, perf_id, barcode, price, aid, friend, kept))
            elif seat == 0 and not box_office and draw.random() < 0.25:  # noqa: PLR2004
                add_ticket((tid, oid, perf_id, barcode, price, None, name, None))
            else:
                add_ticket((tid, oid, perf_id, barcode, price, None, None, None))
        total = seats * price + (0 if box_office else 250)
        holder: str | None
        account: str | None
        if box_office:
            ip = None
            method = "pin" if draw.random() < 0.8 else "cash"  # noqa: PLR2004
            holder, account = None, (iban() if method == "pin" else None)
        else:
            a, b, c, d = draw.below(256), draw.below(256), draw.below(256), draw.below(256)
            ip = f"{a}.{b}.{c}.{d}"
            method = "ideal" if draw.random() < 0.65 else "card"  # noqa: PLR2004
            holder, account = name, (iban() if method == "ideal" else None)
        channel = "box_office" if box_office else "web"
        self.add_order((oid, f"O{oid:08d}", buyer, channel, at, total, name, email, ip))
        paid = at + draw.between(5, 300) * _SECOND
        self.add_payment((oid, oid, total, method, holder, account, paid))

    def mail(self, visitor: str | None, at: int, name: str, email: str | None) -> None:
        """One support mail; a quarter hold bank details for a refund."""
        draw = self.draw
        if draw.random() < 0.25:  # noqa: PLR2004
            body = (
                "Beste medewerker, de voorstelling is afgelast. Kunt u het bedrag terugstorten "
                f"op {draw.iban()} ten name van {name}? Met vriendelijke groet, {name}"
            )
            flagged = 1
        else:
            body = (
                "Beste medewerker, ik kan mijn e-tickets niet terugvinden. Kunt u ze opnieuw "
                f"sturen? Met vriendelijke groet, {name}"
            )
            flagged = 0
        self.add_mail((visitor, at, name, email, body, flagged))

    # -- the visitors ----------------------------------------------------------------------

    def visitor(self, number: int) -> None:
        """One visitor of a random kind, with everything they did."""
        roll = self.draw.random()
        vid = f"v{number:0{self.width}d}"
        if roll < 0.15:  # noqa: PLR2004
            self.guest(vid, number)
        elif roll < 0.17:  # noqa: PLR2004
            self.relation(vid)
        else:
            self.account(vid, number)

    def account(self, vid: str, number: int) -> None:
        """An account: registered, active for a while (maybe until now), then perhaps idle."""
        draw, now = self.draw, self.now
        below = draw.below
        created = now - 1 - below(_SPAN)
        if draw.random() < 0.45:  # noqa: PLR2004
            until = now
        else:
            until = min(now, created + int(-1.5 * _YEAR * _log(1.0 - draw.random())))
        active = until - created + 1
        name, email = self.person(number)
        street, postcode, city, country = self.address()
        self.add_visitor((vid, "account", name, email, self.phone(), street, postcode, city,
                          country, self.birth_date(), created, None))  # fmt: skip
        add_login = self.add_login
        add_login((vid, created))  # registering logs one in
        for _ in range(below(7)):
            add_login((vid, created + below(active)))
        if draw.random() < 0.5:  # noqa: PLR2004
            add_read = self.add_read
            for _ in range(draw.between(1, 10)):
                add_read((vid, created + below(active)))
        companion: list[tuple[str, str, str | None]] = []
        ibans: list[str] = []

        def iban() -> str:
            if not ibans:
                ibans.append(draw.iban())
            return ibans[0]

        for _ in range(draw.weighted(_ORDERS, _ORDER_BOUNDS)):
            at = created + below(active)
            self.order(vid, number, at, self.performance_after(at), box_office=False,
                       person=(name, email), companion=companion, iban=iban)  # fmt: skip
        if draw.random() < 0.05:  # noqa: PLR2004
            at = created + below(active)
            self.add_wait((vid, self.performance_after(at) + 1, at))
        if draw.random() < 0.03:  # noqa: PLR2004
            self.mail(vid, created + below(active), name, email)

    def guest(self, vid: str, number: int) -> None:
        """A quick registration at the box office: one order for one performance."""
        draw, now = self.draw, self.now
        upto = bisect.bisect_right(self.starts, now + 14 * _DAY)
        performance = draw.below(max(1, upto))
        starts = self.starts[performance]
        if draw.random() < 0.7:  # noqa: PLR2004
            at = starts - draw.below(3 * _HOUR)  # at the box office that evening
        else:
            # A presale at the box office, in its opening hours (11:00 to 19:00 UTC).
            at = starts - draw.between(1, 15) * _DAY - draw.below(8 * _HOUR)
        at = min(at, now - 1 - draw.below(_DAY))
        name, email = self.person(number)
        kept = email if draw.random() < 0.6 else None  # noqa: PLR2004
        phone = self.phone() if kept is None or draw.random() < 0.3 else None  # noqa: PLR2004
        self.add_visitor((vid, "guest", name, kept, phone, None, None, None, None, None, at,
                          None))  # fmt: skip
        self.order(vid, number, at, performance, box_office=True, person=(name, kept),
                   companion=[], iban=draw.iban)  # fmt: skip
        if draw.random() < 0.03:  # noqa: PLR2004
            self.mail(vid, min(now - 1, at + draw.between(1, 3 * _DAY)), name, kept)

    def relation(self, vid: str) -> None:
        """A business relation (press, a school, a fund) whose contract ended."""
        draw, now = self.draw, self.now
        created = now - _YEAR - draw.below(_SPAN - _YEAR)
        ended = draw.between(created + _DAY, now)
        first, last = draw.pick(_FIRST), draw.pick(_LAST)
        name = f"{first} {last}"
        email = f"{_LOCAL_PARTS[first, last]}@{draw.pick(_WORK_DOMAINS)}"
        street, postcode, city, country = self.address()
        self.add_visitor((vid, "relation", name, email, self.phone(), street, postcode, city,
                          country, None, created, ended))  # fmt: skip
        if draw.random() < 0.03:  # noqa: PLR2004
            self.mail(vid, draw.between(created, ended), name, email)

    def strangers(self) -> None:
        """Support mail from people the shop does not know."""
        draw, now = self.draw, self.now
        for number in range(max(1, self.visitors // 200)):
            name, email = self.person(2 * self.visitors + number)
            self.mail(None, now - 1 - draw.below(_SPAN), name, email)

    def footage(self) -> None:
        """Two months of four-hour clips from both cameras."""
        add = self.buffers.adder("camera_footage")
        today = self.now - self.now % _DAY
        for day in range(60, 0, -1):
            for block in range(6):
                at = today - day * _DAY + block * 4 * _HOUR
                stamp = datetime.fromtimestamp(at / _SECOND, UTC)
                for camera in ("inside", "outside"):
                    add((camera, at, f"{camera}/{stamp:%Y%m%d-%H%M}.mp4"))


def _make(visitors: int, now: int, seed: int, sink: Callable[[_Rows], None]) -> None:
    """Generate the whole shop, handing the rows to ``sink`` in batches."""
    buffers = _Buffers(sink)
    shop = _Shop(buffers, _Draw(seed), now, visitors)
    shop.programme()
    for number in range(1, visitors + 1):
        shop.visitor(number)
        if number % 1000 == 0:
            buffers.flush_if_full()
    shop.strangers()
    shop.footage()
    buffers.flush()


def _produce(out: Connection, visitors: int, now: int, seed: int) -> None:
    """The producer process: generate, and send each batch (then ``None``) down the pipe."""
    try:
        _make(visitors, now, seed, out.send)
    except BaseException as exc:
        out.send(exc)
        raise
    finally:
        out.send(None)
        out.close()


def _start_method() -> str:
    """``fork`` where it is safe (a single thread, no connection open yet), else ``spawn``."""
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return "fork"
    return "spawn"  # re-imports the main module: run from a file, not from ``python -c``


def _load(path: Path, visitors: int, now: int, seed: int) -> dict[str, int]:
    """Generate into the new file: in a producer process for a large shop, so both cores work."""
    counts = dict.fromkeys(_INSERTS, 0)
    receive: Connection | None = None
    producer = None
    if visitors >= PARALLEL_FROM:
        # One producer makes the rows (the same single random stream as in-process, so the
        # data is the same) while this process binds and writes them. It starts before the
        # database is opened, so no SQLite handle is ever shared with it.
        context = (
            multiprocessing.get_context("fork")
            if _start_method() == "fork"
            else multiprocessing.get_context("spawn")
        )
        receive, send = context.Pipe(duplex=False)
        producer = context.Process(
            target=_produce, args=(send, visitors, now, seed), name="ticketshop-generate"
        )
        producer.start()
        send.close()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -262144")  # 256 MiB, for the index builds
        conn.execute("PRAGMA temp_store = MEMORY")
        create_tables(conn)
        if receive is None:
            _make(visitors, now, seed, lambda rows: _write(conn, rows, counts))
        else:
            _receive(conn, receive, counts)
        create_indexes(conn)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except BaseException:
        if producer is not None:
            producer.terminate()  # it may be blocked on a pipe nobody reads any more
        raise
    finally:
        conn.close()
        if receive is not None:
            receive.close()
        if producer is not None:
            producer.join()
    return counts


def _receive(conn: sqlite3.Connection, receive: Connection, counts: dict[str, int]) -> None:
    """Write the producer's batches until it says it is done."""
    try:
        while (rows := receive.recv()) is not None:
            if isinstance(rows, BaseException):
                raise rows
            _write(conn, rows, counts)
    except EOFError:
        msg = "the generating process ended without finishing (see its error above)"
        raise RuntimeError(msg) from None
    finally:
        receive.close()


def generate(
    path: str | os.PathLike[str],
    visitors: int,
    *,
    now: datetime,
    seed: int = DEFAULT_SEED,
    replace: bool = False,
) -> Generated:
    """Write a new ticket-shop database of ``visitors`` visitors to ``path``.

    Deterministic: the same ``visitors``, ``now`` and ``seed`` give the same rows. Rows go in
    with ``executemany`` in batches, with ``synchronous = OFF``, and the indexes are made
    after the load; from :data:`PARALLEL_FROM` visitors on, a second process generates while
    this one writes. The database is left in WAL mode.

    Args:
        path: the file to create.
        visitors: how many visitors (accounts, guests and relations; attendees come on top).
        now: the instant the data is generated "at" (aware): activity lies before it, some
            performances after it.
        seed: the seed of the one random generator every draw comes from.
        replace: overwrite an existing file instead of refusing.

    Raises:
        FileExistsError: ``path`` exists and ``replace`` is false.
        ValidationError: ``now`` is naive.
        ValueError: ``visitors`` is negative.
    """
    started = time.perf_counter()
    if visitors < 0:
        msg = f"visitors must be zero or more, got {visitors}"
        raise ValueError(msg)
    now_us = to_micros(now)
    target = Path(path)
    if target.exists() and not replace:
        msg = f"{target} exists already; pass replace=True (--replace) to overwrite it"
        raise FileExistsError(msg)
    for leftover in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
        leftover.unlink(missing_ok=True)
    counts = _load(target, visitors, now_us, seed)
    return Generated(path=target, rows=counts, seconds=time.perf_counter() - started)


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        msg = "--now needs a time zone, e.g. 2025-06-01T12:00:00+00:00"
        raise argparse.ArgumentTypeError(msg)
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: ``generate.py --visitors N --out PATH [--seed S] [--now ISO]``."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--visitors", type=int, required=True, help="how many visitors")
    parser.add_argument("--out", type=Path, required=True, help="the database file to write")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the random seed")
    parser.add_argument(
        "--now", type=_instant, default=DEFAULT_NOW, help="generate 'at' this ISO instant"
    )
    parser.add_argument("--replace", action="store_true", help="overwrite an existing file")
    args = parser.parse_args(argv)
    try:
        done = generate(args.out, args.visitors, now=args.now, seed=args.seed, replace=args.replace)
    except FileExistsError as exc:
        parser.error(str(exc))
    print(f"wrote {args.out}: {sum(done.rows.values()):,} rows in {done.seconds:.1f} s")
    for table, count in done.rows.items():
        print(f"  {table:<17} {count:>12,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
