"""The hot paths on a SQLite file: what a ticket shop pays on every request, against raw SQL.

Four operations a shop runs per request, each against the fastest hand-written SQL doing
the same unit of work on a file of the same schema, opened with the same durability:

- ``kit.consent.give``, ``withdraw`` and ``object`` against one transaction of the raw
  ``INSERT`` of the event, a hash-chained audit row (the head read with one indexed
  ``LIMIT 1``, the canonical bytes built and hashed, the subject's keyed reference
  computed) and ``COMMIT``; both under ``synchronous=FULL`` (avgkit's default) and
  ``?synchronous=normal``, the baseline under the same setting each time;
- ``kit.may_process`` against two indexed ``LIMIT 1`` lookups on the same tables (the
  restriction in force, the subject's latest consent event for the purpose), on the same
  file, half the subjects consenting and half withdrawn.

After a warm-up the two sides take turns, round by round (the side going first alternates);
the best round counts, the median is printed too. The goal: avgkit at most 1.5 times the
baseline's time (its rate at least 1 / 1.5 of the baseline's). The table also counts the
SQL statements each avgkit call issues against the baseline's (sqlite3's trace callback on
both connections): that count is where the next work has to go.

avgkit does more than the baseline in a give: it writes the audit binding of the event and
one feed notice per recipient of the purpose. The baseline leaves those out, because the
goal is stated against the event, the audit row and the commit alone.

    python benchmarks/hot_paths.py                  # 5,000 operations a side a round
    python benchmarks/hot_paths.py --ops 200        # a quick smoke run
    python benchmarks/hot_paths.py --dir /srv/avg   # on the production disk (fsync costs)
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from avgkit import Evidence, Inventory, Kit
from avgkit.audit import GENESIS_HASH
from avgkit.presets import ticketing
from avgkit.storage.sqlite import url_for
from avgkit.testing import ManualClock

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared table of run.py
from _table import Disagreement, Figure, Row, compare, rate, ratio_at_least

GOAL = 1.5
"""avgkit at most 1.5 times the baseline's time (rates: at least 1 / 1.5 of its rate)."""
SETTINGS = ("full", "normal")
"""The durability settings measured: avgkit's default first."""
WARM_UP = 200
"""Operations a side a phase in the warm-up round (files created, caches filled)."""
T0 = datetime(2025, 1, 1, tzinfo=UTC)
CONSENTED = "newsletter"
"""A consent purpose (given, withdrawn, asked about in ``may_process``)."""
OBJECTABLE = "evaluation_mail"
"""A legitimate-interests purpose (objected to)."""
EVIDENCE = Evidence.from_wording(
    "Ja, stuur mij de nieuwsbrief.", channel="webshop", notice_version="2025-01"
)
_DOMAIN = b"avgkit.audit.v1\n"
_REF_KEY = b"hand-written subject reference key, 32 bytes long.."
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# (phase, consent_events.kind, track, the audit action, the purpose)
PHASES = (
    ("give", "given", 0, "consent.given", CONSENTED),
    ("withdraw", "withdrawn", 0, "consent.withdrawn", CONSENTED),
    ("object", "objected", 1, "consent.objected", OBJECTABLE),
)

_INSERT_EVENT = (
    "INSERT INTO consent_events (subject, purpose, kind, track, at, evidence) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_AUDIT_HEAD = "SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1"
_INSERT_AUDIT = (
    "INSERT INTO audit_entries (seq, at, action, actor, subject_ref, details, prev_hash, hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_RESTRICTED = (
    "SELECT 1 FROM dsar_restrictions WHERE subject = ? AND started_at <= ? "
    "AND (lifted_at IS NULL OR lifted_at > ?) LIMIT 1"
)
_LATEST = (
    "SELECT kind FROM consent_events WHERE purpose = ? AND subject = ? AND track = 0 "
    "AND at <= ? ORDER BY at DESC, seq DESC LIMIT 1"
)


def micros(when: datetime) -> int:
    """``when`` as the integer microseconds since the epoch the consent tables store."""
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def text(when: datetime) -> str:
    """``when`` in the text form the audit and restriction tables store."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def inventory() -> Inventory:
    """The ticketing preset's inventory (newsletter: consent; evaluation mail: objectable)."""
    return ticketing.inventory()


def schema_only(path: Path) -> None:
    """Create ``path`` with avgkit's schema (tables, indexes, triggers) and nothing else."""
    with Kit.open(url_for(path), inventory=inventory(), clock=ManualClock(T0)):
        pass


def raw_connection(path: Path, setting: str) -> sqlite3.Connection:
    """A plain connection opened as avgkit opens its own: WAL, ``synchronous=setting``."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {setting.upper()}")
    conn.execute("PRAGMA cache_size = -65536")
    return conn


def connection_of(kit: Kit) -> sqlite3.Connection:
    """The sqlite3 connection under a SQLite kit's stores (to count its statements).

    No public name reaches it; the benchmark reads the audit store's database handle.
    """
    conn = kit.stores.audit._db._conn  # type: ignore[attr-defined]  # noqa: SLF001
    if not isinstance(conn, sqlite3.Connection):
        msg = "the kit's stores are not SQLite stores"
        raise TypeError(msg)
    return conn


@dataclass
class RawLedger:
    """The hand-written baseline: one transaction per event, a hash-chained audit row."""

    conn: sqlite3.Connection
    evidence: int = 0
    dumps: Callable[[object], str] = field(
        default=json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
    )

    def __post_init__(self) -> None:
        self.conn.execute(
            "INSERT INTO consent_evidence (channel, notice_version, wording_sha256, actor, "
            "staff_key) VALUES (?, ?, ?, 'subject', '') ON CONFLICT DO NOTHING",
            (EVIDENCE.channel.value, EVIDENCE.notice_version, EVIDENCE.wording_sha256),
        )
        (self.evidence,) = self.conn.execute(
            "SELECT id FROM consent_evidence WHERE channel = ? AND notice_version = ? "
            "AND wording_sha256 = ? AND actor = 'subject' AND staff_key = ''",
            (EVIDENCE.channel.value, EVIDENCE.notice_version, EVIDENCE.wording_sha256),
        ).fetchone()

    def record(  # noqa: PLR0917 - one event's columns, as the INSERT takes them
        self, subject: str, purpose: str, kind: str, track: int, action: str, at: datetime
    ) -> None:
        """Insert the event and its chained audit row, and commit (or roll back)."""
        conn = self.conn
        at_text = text(at)
        ref = "sr1:" + hmac.new(_REF_KEY, subject.encode(), hashlib.sha256).hexdigest()[:32]
        details = {
            "actor": "subject",
            "channel": EVIDENCE.channel.value,
            "notice_version": EVIDENCE.notice_version,
            "purpose": purpose,
        }
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(_INSERT_EVENT, (subject, purpose, kind, track, micros(at), self.evidence))
            head = conn.execute(_AUDIT_HEAD).fetchone()
            seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
            body = {
                "seq": seq,
                "at": at_text,
                "action": action,
                "actor": "subject",
                "subject_ref": ref,
                "details": details,
                "prev_hash": prev,
            }
            digest = hashlib.sha256(_DOMAIN + self.dumps(body).encode()).hexdigest()
            conn.execute(
                _INSERT_AUDIT,
                (seq, at_text, action, "subject", ref, self.dumps(details), prev, digest),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def may_process(self, subject: str, purpose: str, at: datetime) -> bool:
        """Two indexed lookups: no restriction in force, and the latest event a consent."""
        at_text = text(at)
        if self.conn.execute(_RESTRICTED, (subject, at_text, at_text)).fetchone() is not None:
            return False
        latest = self.conn.execute(_LATEST, (purpose, subject, micros(at))).fetchone()
        return latest is not None and latest[0] == "given"


@dataclass
class Side:
    """One durability setting: avgkit's kit on one file, the baseline on another."""

    setting: str
    path: Path
    clock: ManualClock
    kit: Kit
    raw: RawLedger

    @classmethod
    def open(cls, folder: Path, setting: str) -> Side:
        """Both files of ``setting``, created with avgkit's schema and opened with it."""
        ours, theirs = folder / f"avgkit-{setting}.db", folder / f"raw-{setting}.db"
        schema_only(theirs)
        clock = ManualClock(T0)
        kit = Kit.open(f"{url_for(ours)}?synchronous={setting}", inventory=inventory(), clock=clock)
        return cls(setting, ours, clock, kit, RawLedger(raw_connection(theirs, setting)))

    def close(self) -> None:
        """Close both connections."""
        self.raw.conn.close()
        self.kit.close()

    def ours(self, phase: str, subjects: Sequence[str]) -> Callable[[], None]:
        """avgkit's run of ``phase`` over ``subjects``, one call each."""
        consent = self.kit.consent
        calls: dict[str, Callable[[str, str, Evidence], object]] = {
            "give": consent.give,
            "withdraw": consent.withdraw,
            "object": consent.object,
        }
        call = calls[phase]
        purpose = next(p[4] for p in PHASES if p[0] == phase)

        def run() -> None:
            for subject in subjects:
                call(subject, purpose, EVIDENCE)

        return run

    def theirs(self, phase: str, subjects: Sequence[str]) -> Callable[[], None]:
        """The baseline's run of ``phase`` over ``subjects``, at avgkit's clock."""
        _, kind, track, action, purpose = next(p for p in PHASES if p[0] == phase)
        record = self.raw.record

        def run() -> None:
            at = self.clock.now()
            for subject in subjects:
                record(subject, purpose, kind, track, action, at)

        return run


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    """The consent events of a file by kind (both sides must have recorded as many)."""
    return dict(conn.execute("SELECT kind, count(*) FROM consent_events GROUP BY kind"))


@contextmanager
def traced(conn: sqlite3.Connection) -> Iterator[list[str]]:
    """The statements run on ``conn`` inside the block."""
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    try:
        yield statements
    finally:
        conn.set_trace_callback(None)


@dataclass
class Timings:
    """Every round's seconds, per (operation, setting, side), and the statement counts."""

    spent: dict[tuple[str, str, str], list[float]] = field(default_factory=dict)
    statements: dict[str, tuple[int, int]] = field(default_factory=dict)

    def add(self, key: tuple[str, str, str], seconds: float) -> None:
        """One round's seconds for ``key``."""
        self.spent.setdefault(key, []).append(seconds)

    def best(self, key: tuple[str, str, str]) -> float:
        """The best round of ``key``."""
        return min(self.spent[key])

    def median(self, key: tuple[str, str, str]) -> float:
        """The median round of ``key``."""
        return statistics.median(self.spent[key])


def take_turns(order: int, work: dict[str, Callable[[], None]]) -> dict[str, float]:
    """Run both sides once, the first of them alternating with ``order``; their seconds."""
    names = list(work) if order % 2 == 0 else list(work)[::-1]
    spent = {}
    for name in names:
        start = time.perf_counter()
        work[name]()
        spent[name] = time.perf_counter() - start
    return spent


def writes(sides: dict[str, Side], count: int, repeat: int, found: Timings) -> None:
    """The warm-up, then ``repeat`` rounds of every write phase under every setting."""
    for number in range(repeat + 1):  # round 0 is the warm-up
        n = min(count, WARM_UP) if number == 0 else count
        subjects = [f"cust-{number}-{i}" for i in range(n)]
        for setting, side in sides.items():
            for index, (phase, *_) in enumerate(PHASES):
                side.clock.set(T0 + timedelta(minutes=number, seconds=index))
                spent = take_turns(
                    number + index,
                    {
                        "avgkit": side.ours(phase, subjects),
                        "raw": side.theirs(phase, subjects),
                    },
                )
                if number:
                    for name, seconds in spent.items():
                        found.add((phase, setting, name), seconds)
    for side in sides.values():
        ours, theirs = counts(connection_of(side.kit)), counts(side.raw.conn)
        if ours != theirs:
            msg = f"synchronous={side.setting}: events by kind {ours} (avgkit), {theirs} (raw)"
            raise Disagreement(msg)


def reads(side: Side, count: int, repeat: int, found: Timings) -> None:
    """``may_process`` against the two lookups on avgkit's own file, half consenting."""
    kit, clock = side.kit, side.clock
    clock.set(T0 + timedelta(days=1))
    kept = [f"keep-{i}" for i in range(count)]
    for subject in kept:  # untimed: subjects whose consent is still given
        kit.consent.give(subject, CONSENTED, EVIDENCE)
    withdrawn = [f"cust-1-{i}" for i in range(count)]
    subjects = [s for pair in zip(kept, withdrawn, strict=True) for s in pair]
    clock.set(T0 + timedelta(days=2))
    at = clock.now()
    raw = RawLedger(raw_connection(side.path, side.setting))
    try:
        ours_answers = [kit.may_process(s, CONSENTED).allowed for s in subjects]
        theirs_answers = [raw.may_process(s, CONSENTED, at) for s in subjects]
        if ours_answers != theirs_answers:
            wrong = sum(a != b for a, b in zip(ours_answers, theirs_answers, strict=True))
            msg = f"may_process and the two lookups differ for {wrong} of {len(subjects)}"
            raise Disagreement(msg)
        may_process, lookups = kit.may_process, raw.may_process

        def ours() -> None:
            for subject in subjects:
                may_process(subject, CONSENTED)

        def theirs() -> None:
            for subject in subjects:
                lookups(subject, CONSENTED, at)

        for number in range(repeat):
            for name, seconds in take_turns(number, {"avgkit": ours, "raw": theirs}).items():
                found.add(("may_process", side.setting, name), seconds)
        with traced(connection_of(kit)) as mine:
            may_process(kept[0], CONSENTED)
        with traced(raw.conn) as hand:
            lookups(kept[0], CONSENTED, at)
        found.statements["may_process"] = (len(mine), len(hand))
    finally:
        raw.conn.close()


def statements(side: Side, found: Timings) -> None:
    """How many SQL statements one give, withdraw and object issue, on each side."""
    side.clock.set(T0 + timedelta(days=3))
    for phase, *_ in PHASES:
        with traced(connection_of(side.kit)) as mine:
            side.ours(phase, ["counted"])()
        with traced(side.raw.conn) as hand:
            side.theirs(phase, ["counted"])()
        found.statements[phase] = (len(mine), len(hand))


def timings(count: int, repeat: int, folder: str | None = None) -> Timings:
    """Every round of every operation, both sides, both settings; and the counts."""
    found = Timings()
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        sides = {setting: Side.open(Path(tmp), setting) for setting in SETTINGS}
        try:
            writes(sides, count, max(1, repeat), found)
            reads(sides[SETTINGS[0]], count, max(1, repeat), found)
            statements(sides[SETTINGS[0]], found)
        finally:
            for side in sides.values():
                side.close()
    return found


OPERATIONS = {
    "give": ("consent.give()", "gives"),
    "withdraw": ("consent.withdraw()", "withdrawals"),
    "object": ("consent.object()", "objections"),
    "may_process": ("kit.may_process()", "decisions"),
}


def rows(size: int, found: Timings) -> list[Row]:
    """The table's rows: rates against the baseline, then the statement counts."""
    table: list[Row] = []
    goal = ratio_at_least(round(1 / GOAL, 2))
    for op, (name, per) in OPERATIONS.items():
        done = size * 2 if op == "may_process" else size
        for setting in SETTINGS:
            if (op, setting, "avgkit") not in found.spent:
                continue
            if op == "may_process":
                operation = f"{name} vs two indexed LIMIT 1 lookups"
            else:
                operation = (
                    f"{name} vs raw INSERT + audit row + COMMIT, synchronous={setting.upper()}"
                )
            table.append(
                compare(
                    "hot_paths",
                    operation,
                    "SQLite",
                    done,
                    per,
                    rate(done / found.best((op, setting, "avgkit")), per),
                    rate(done / found.best((op, setting, "raw")), per),
                    goal,
                )
            )
    for op in (op for op in OPERATIONS if op in found.statements):
        ours, theirs = found.statements[op]
        table.append(
            compare(
                "hot_paths",
                f"{OPERATIONS[op][0]} SQL statements vs the baseline's",
                "SQLite",
                1,
                "call",
                Figure(ours, "count", "statements"),
                Figure(theirs, "count", "statements"),
            )
        )
    return table


def narrate(size: int, found: Timings, out: Any) -> None:
    """Best and median of every operation, the ratio and the goal; the statement counts."""
    print(f"{size:,} operations a side a round, best (median)", file=out)
    for op, (name, per) in OPERATIONS.items():
        done = size * 2 if op == "may_process" else size
        for setting in SETTINGS:
            if (op, setting, "avgkit") not in found.spent:
                continue
            figures = []
            for side in ("avgkit", "raw"):
                key = (op, setting, side)
                best, median = done / found.best(key), done / found.median(key)
                figures.append(f"{side} {best:,.0f} {per}/s ({median:,.0f})")
            ratio = found.best((op, setting, "avgkit")) / found.best((op, setting, "raw"))
            verdict = "meets" if ratio <= GOAL else "MISSES"
            where = "" if op == "may_process" else f" synchronous={setting.upper()}"
            print(
                f"  {name}{where}: {'; '.join(figures)}; time ratio {ratio:.2f} "
                f"({verdict} the at most {GOAL} goal)",
                file=out,
            )
    for op in (op for op in OPERATIONS if op in found.statements):
        ours, theirs = found.statements[op]
        print(f"  {OPERATIONS[op][0]} issues {ours} SQL statements (baseline {theirs})", file=out)


def measure(
    size: int, *, postgres: str | None = None, out: Any = None, rounds: int | None = None
) -> list[Row]:
    """The table's rows: ``size`` operations a side a round, on SQLite only."""
    del postgres  # SQLite's durability setting is what this measures
    found = timings(size, rounds or 5)
    narrate(size, found, out or sys.stdout)
    return rows(size, found)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--ops", type=int, default=5_000, help="operations a side a round")
    parser.add_argument("--repeat", type=int, default=5, help="rounds taking turns")
    parser.add_argument("--dir", default=None, help="folder for the files (default: temp)")
    args = parser.parse_args(argv)
    found = timings(args.ops, args.repeat, args.dir)
    narrate(args.ops, found, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
