"""The retention and erasure stores, written once for every SQL dialect (private)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from itertools import islice
from typing import Any, Final, NoReturn

from avgkit.erasure._values import ErasureEntry, ErasureNotice
from avgkit.errors import IntegrityError
from avgkit.retention._values import (
    Action,
    ClaimedAction,
    Hold,
    HoldReason,
    Outcome,
    PlannedAction,
    StoredHold,
)
from avgkit.storage._sql._codecs import opt_text
from avgkit.storage._sql._db import SqlDatabase
from avgkit.storage._sql._dialect import Dialect, decode_text
from avgkit.storage._sql._errors import raise_clean
from avgkit.storage.checks import check_forget, hold_not_found
from avgkit.subjects import SubjectId

__all__ = [
    "ERASURES",
    "RETENTION",
    "SqlErasureStore",
    "SqlRetentionStore",
    "erasure_migrations",
    "retention_migrations",
]

RETENTION = "retention"
ERASURES = "erasures"
_STAGE_BATCH: Final = 200
_UNDECODABLE: Final = (ValueError, TypeError, KeyError)
_ACTION_COLUMNS: Final = (
    "number",
    "subject",
    "rule",
    "action",
    "due",
    "reason",
    "warning",
    "source",
    "record_key",
    "anchor",
    "hold",
    "deferred_until",
)
_STAGED: Final = tuple(c for c in _ACTION_COLUMNS if c not in {"hold", "deferred_until"})


def retention_migrations(d: Dialect) -> tuple[str, ...]:
    """The retention component's scripts in dialect ``d`` (never edited once released)."""
    return (
        f"""
        -- Holds keep a living subject's data past its date; rows go when the subject does.
        CREATE TABLE retention_holds (
            id {d.identity},
            subject TEXT NOT NULL,
            reason TEXT NOT NULL,
            until {d.instant},
            placed_at {d.instant} NOT NULL,
            released_at {d.instant}
        );
        CREATE INDEX retention_holds_by_subject ON retention_holds (subject);
        -- A warning is tied to the trigger instant it was sent for: new activity moves the
        -- instant, so an old warning no longer counts.
        CREATE TABLE retention_warnings (
            subject TEXT NOT NULL,
            rule TEXT NOT NULL,
            anchor {d.instant} NOT NULL,
            warned_at {d.instant} NOT NULL,
            PRIMARY KEY (subject, rule, anchor)
        );
        CREATE TABLE retention_plans (
            plan_id TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            planned_at {d.instant} NOT NULL
        );
        -- A staged plan's actions; executors claim them. item is unique per plan while the
        -- action is open and becomes 'done:<number>' once finished (it names the subject).
        CREATE TABLE retention_actions (
            plan_id TEXT NOT NULL REFERENCES retention_plans (plan_id),
            number {d.big_integer} NOT NULL,
            item TEXT NOT NULL,
            subject TEXT,
            rule TEXT NOT NULL,
            action TEXT NOT NULL,
            due {d.instant} NOT NULL,
            reason TEXT NOT NULL,
            warning {d.boolean} NOT NULL,
            source TEXT,
            record_key TEXT,
            anchor {d.instant},
            claimed_by TEXT,
            claimed_at {d.instant},
            finished_at {d.instant},
            outcome TEXT,
            PRIMARY KEY (plan_id, number),
            UNIQUE (plan_id, item)
        );
        CREATE INDEX retention_actions_open ON retention_actions (plan_id, number)
            WHERE finished_at IS NULL;
        CREATE INDEX retention_actions_by_subject ON retention_actions (subject);
        """,
    )


def erasure_migrations(d: Dialect) -> tuple[str, ...]:
    """The erasures component's scripts in dialect ``d`` (never edited once released)."""
    return (
        f"""
        -- The erasure log: pseudonymous references only. Replayed after a host restore.
        CREATE TABLE erasures (
            subject_ref TEXT PRIMARY KEY,
            started_at {d.instant} NOT NULL,
            cause TEXT NOT NULL,
            completed_at {d.instant}
        );
        CREATE INDEX erasures_by_time ON erasures (started_at, subject_ref);
        -- Keyed pseudonyms of erased subjects' e-mail addresses: an import checks them.
        CREATE TABLE erasure_suppressions (
            pseudonym TEXT PRIMARY KEY,
            subject_ref TEXT NOT NULL REFERENCES erasures (subject_ref)
        );
        -- One notice per recipient per erased subject: the feed's erasure entries.
        CREATE TABLE erasure_notices (
            seq {d.identity},
            recipient TEXT NOT NULL,
            subject_ref TEXT NOT NULL REFERENCES erasures (subject_ref),
            at {d.instant} NOT NULL
        );
        {d.append_only(ERASURES, "erasure_notices", "erasure notices are append-only")}
        """,
    )


def _malformed(what: str) -> NoReturn:
    raise_clean(IntegrityError(f"{what} is malformed: it was changed outside avgkit"))


class SqlRetentionStore:
    """A :class:`~avgkit.storage.RetentionStore` in the ``retention_*`` tables.

    .. versionadded:: 0.2.0
    """

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db
        self._d = db.dialect
        db.migrate(RETENTION, retention_migrations(db.dialect))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._db!r})"

    # ------------------------------------------------------------------ holds

    def _opt_in(self, value: datetime | None) -> object:
        return None if value is None else self._d.instant_in(value)

    def _opt_out(self, value: object) -> datetime | None:
        return None if value is None else self._d.instant_out(value)

    @property
    def _hold_select(self) -> str:
        d = self._d
        return (
            f"SELECT id, {d.column('subject')}, {d.column('reason')}, {d.column('until')}, "  # noqa: S608 - fixed names and placeholders only
            f"{d.column('placed_at')}, {d.column('released_at')} FROM retention_holds"
        )

    def _hold(self, row: Sequence[Any]) -> StoredHold:
        try:
            number, subject, reason, until, placed_at, released_at = row
            return StoredHold(
                id=int(number),
                hold=Hold(
                    subject=decode_text(subject),
                    reason=HoldReason(decode_text(reason)),
                    until=self._opt_out(until),
                ),
                placed_at=self._d.instant_out(placed_at),
                released_at=self._opt_out(released_at),
            )
        except _UNDECODABLE:
            _malformed(f"hold {row[0] if isinstance(row[0], int) else '?'}")

    def place_hold(self, hold: Hold, at: datetime) -> StoredHold:
        """Store a new hold; returns it with its number."""
        d = self._d
        with self._db.write("placing a hold") as conn:
            (number,) = conn.execute(
                "INSERT INTO retention_holds (subject, reason, until, placed_at) "  # noqa: S608 - fixed names and placeholders only
                f"VALUES ({d.params(4)}) RETURNING id",
                (hold.subject, str(hold.reason), self._opt_in(hold.until), d.instant_in(at)),
            ).fetchone()
        return StoredHold(id=int(number), hold=hold, placed_at=at)

    def release_hold(self, hold_id: int, at: datetime) -> StoredHold:
        """Release a hold (a second release changes nothing); NotFound if unknown."""
        p = self._d.placeholder
        with self._db.write("releasing a hold") as conn:
            conn.execute(
                f"UPDATE retention_holds SET released_at = {p} "  # noqa: S608 - fixed names
                f"WHERE id = {p} AND released_at IS NULL",
                (self._d.instant_in(at), hold_id),
            )
            row = conn.execute(f"{self._hold_select} WHERE id = {p}", (hold_id,)).fetchone()
        if row is None:
            raise hold_not_found(hold_id)
        return self._hold(row)

    def _in_force(self) -> str:
        p = self._d.placeholder
        return f"released_at IS NULL AND (until IS NULL OR until > {p})"

    def holds_for(self, subject: SubjectId, at: datetime) -> tuple[StoredHold, ...]:
        """The subject's holds in force at ``at``, oldest first."""
        p = self._d.placeholder
        with self._db.read("reading holds") as conn:
            rows = conn.execute(
                f"{self._hold_select} WHERE subject = {p} AND {self._in_force()} ORDER BY id",
                (subject, self._d.instant_in(at)),
            ).fetchall()
        return tuple(self._hold(row) for row in rows)

    def active_holds(self, at: datetime) -> Iterator[StoredHold]:
        """Stream every hold in force at ``at``, a page at a time."""
        p = self._d.placeholder
        after = 0
        while True:
            with self._db.read("reading holds") as conn:
                rows = conn.execute(
                    f"{self._hold_select} WHERE id > {p} AND {self._in_force()} "
                    f"ORDER BY id LIMIT {p}",
                    (after, self._d.instant_in(at), self._d.page_size),
                ).fetchall()
            for row in rows:
                yield self._hold(row)
            if len(rows) < self._d.page_size:
                return
            after = int(rows[-1][0])

    # ------------------------------------------------------------------ warnings

    def warned_at(self, subject: SubjectId, rule: str, anchor: datetime) -> datetime | None:
        """When the subject was warned of ``rule``'s action for the trigger at ``anchor``."""
        d = self._d
        p = d.placeholder
        with self._db.read("reading warnings") as conn:
            row = conn.execute(
                f"SELECT {d.column('warned_at')} FROM retention_warnings "  # noqa: S608
                f"WHERE subject = {p} AND rule = {p} AND anchor = {p}",
                (subject, rule, d.instant_in(anchor)),
            ).fetchone()
        if row is None:
            return None
        try:
            return d.instant_out(row[0])
        except _UNDECODABLE:
            _malformed(f"a warning of rule {rule!r}")

    def warnings_for(
        self, rule: str, subjects: Sequence[SubjectId]
    ) -> dict[tuple[SubjectId, datetime], datetime]:
        """Every warning of ``rule`` to one of ``subjects``, in one query."""
        if not subjects:
            return {}
        d = self._d
        with self._db.read("reading warnings") as conn:
            rows = conn.execute(
                f"SELECT {d.column('subject')}, {d.column('anchor')}, {d.column('warned_at')} "  # noqa: S608 - fixed names and placeholders only
                f"FROM retention_warnings WHERE rule = {d.placeholder} "
                f"AND subject IN ({d.params(len(subjects))})",
                (rule, *subjects),
            ).fetchall()
        try:
            return {
                (SubjectId(decode_text(s)), d.instant_out(a)): d.instant_out(w) for s, a, w in rows
            }
        except _UNDECODABLE:
            _malformed(f"a warning of rule {rule!r}")

    def record_warning(self, subject: SubjectId, rule: str, anchor: datetime, at: datetime) -> None:
        """Remember the warning (a second call for the same trigger changes nothing)."""
        d = self._d
        with self._db.write("recording a warning") as conn:
            conn.execute(
                d.insert_ignore(
                    "retention_warnings",
                    ("subject", "rule", "anchor", "warned_at"),
                    "subject, rule, anchor",
                ),
                (subject, rule, d.instant_in(anchor), d.instant_in(at)),
            )

    def forget_subject(self, subject: SubjectId, reference: str) -> int:
        """Drop the subject's holds and warnings; re-key its staged actions to ``reference``."""
        subject, reference = check_forget(subject, reference)
        p = self._d.placeholder
        with self._db.write("forgetting a subject's holds") as conn:
            gone = conn.execute(f"DELETE FROM retention_holds WHERE subject = {p}", (subject,))  # noqa: S608 - fixed names and placeholders only
            warned = conn.execute(f"DELETE FROM retention_warnings WHERE subject = {p}", (subject,))  # noqa: S608 - fixed names and placeholders only
            # An open action's item ends in "|s:<subject>": it must name the reference too,
            # or the host's id would outlive the erasure there (a finished one's is done:<n>).
            moved = conn.execute(
                f"UPDATE retention_actions SET subject = {p}, item = replace(item, {p}, {p}) "  # noqa: S608
                f"WHERE subject = {p}",
                (reference, f"|s:{subject}", f"|s:{reference}", subject),
            )
        return max(gone.rowcount, 0) + max(warned.rowcount, 0) + max(moved.rowcount, 0)

    # ------------------------------------------------------------------ plans

    def _staged_row(self, number: int, action: PlannedAction) -> tuple[Any, ...]:
        d = self._d
        return (
            number,
            action.item,
            action.subject,
            action.rule,
            str(action.action),
            d.instant_in(action.due),
            action.reason,
            d.flag_in(action.warning),
            action.source,
            action.record_key,
            self._opt_in(action.anchor),
        )

    def stage(
        self, plan_id: str, fingerprint: str, at: datetime, actions: Iterator[PlannedAction]
    ) -> int:
        """Store the plan's actions in one transaction; 0 if it was staged before."""
        d = self._d
        columns = ("plan_id", "number", "item", *_STAGED[1:])
        row_marks = f"({d.params(len(columns))})"
        staged = 0
        with self._db.write("staging a retention plan") as conn:
            cursor = conn.execute(
                d.insert_ignore(
                    "retention_plans", ("plan_id", "fingerprint", "planned_at"), "plan_id"
                ),
                (plan_id, fingerprint, d.instant_in(at)),
            )
            if cursor.rowcount != 1:
                return 0
            while batch := list(islice(actions, _STAGE_BATCH)):
                rows = [
                    (plan_id, *self._staged_row(staged + offset + 1, action))
                    for offset, action in enumerate(batch)
                ]
                conn.execute(
                    f"INSERT INTO retention_actions ({', '.join(columns)}) VALUES "  # noqa: S608
                    + ", ".join([row_marks] * len(rows)),
                    [value for row in rows for value in row],
                )
                staged += len(rows)
        return staged

    def plan_fingerprint(self, plan_id: str) -> str | None:
        """The fingerprint a plan was staged with, or ``None``."""
        d = self._d
        with self._db.read("reading a retention plan") as conn:
            row = conn.execute(
                f"SELECT {d.column('fingerprint')} FROM retention_plans "  # noqa: S608
                f"WHERE plan_id = {d.placeholder}",
                (plan_id,),
            ).fetchone()
        if row is None:
            return None
        try:
            return decode_text(row[0])
        except _UNDECODABLE:
            _malformed("a retention plan")

    def _claimed(self, plan_id: str, row: Sequence[Any]) -> ClaimedAction:
        d = self._d
        try:
            number, subject, rule, action, due, reason, warning, source, key, anchor = row
            planned = PlannedAction(
                subject=opt_text(subject),
                rule=decode_text(rule),
                action=Action(decode_text(action)),
                due=d.instant_out(due),
                reason=decode_text(reason),
                warning=bool(warning),
                source=opt_text(source),
                record_key=opt_text(key),
                anchor=self._opt_out(anchor),
            )
            return ClaimedAction(plan_id=plan_id, number=int(number), action=planned)
        except _UNDECODABLE:
            _malformed(f"retention action {row[0] if isinstance(row[0], int) else '?'}")

    def claim(
        self,
        plan_id: str,
        executor: str,
        at: datetime,
        *,
        limit: int,
        stale_before: datetime,
    ) -> tuple[ClaimedAction, ...]:
        """Claim up to ``limit`` open actions, in number order, skipping others' claims."""
        d = self._d
        p = d.placeholder
        returned = ", ".join(c if c in {"number", "warning"} else d.column(c) for c in _STAGED)
        with self._db.write("claiming retention actions") as conn:
            # The free rows are picked once, in a materialised CTE: as an IN subquery,
            # PostgreSQL may rescan it for every row of a nested-loop join, and each rescan
            # skips the rows this statement already updated and locks the next ones, so one
            # claim took far more than ``limit`` actions.
            rows = conn.execute(
                f"WITH picked AS MATERIALIZED (SELECT number FROM retention_actions "  # noqa: S608
                f"WHERE plan_id = {p} "
                f"AND finished_at IS NULL AND (claimed_at IS NULL OR claimed_at <= {p}) "
                f"ORDER BY number LIMIT {p} {d.skip_locked}) "
                f"UPDATE retention_actions SET claimed_by = {p}, claimed_at = {p} "
                f"WHERE plan_id = {p} AND number IN (SELECT number FROM picked) "
                f"RETURNING {returned}",
                (
                    plan_id,
                    d.instant_in(stale_before),
                    limit,
                    executor,
                    d.instant_in(at),
                    plan_id,
                ),
            ).fetchall()
        claimed = [self._claimed(plan_id, row) for row in rows]
        return tuple(sorted(claimed, key=lambda c: c.number))

    def finish(
        self,
        plan_id: str,
        number: int,
        outcome: Outcome,
        at: datetime,
        *,
        subject_ref: str | None,
    ) -> bool:
        """Mark an action finished; False if it was finished before."""
        d = self._d
        p = d.placeholder
        with self._db.write("finishing a retention action") as conn:
            cursor = conn.execute(
                f"UPDATE retention_actions SET finished_at = {p}, outcome = {p}, "  # noqa: S608
                f"item = {p}, subject = coalesce({p}, subject) "
                f"WHERE plan_id = {p} AND number = {p} AND finished_at IS NULL",
                (d.instant_in(at), str(outcome), f"done:{number}", subject_ref, plan_id, number),
            )
        return cursor.rowcount == 1

    def outcomes(self, plan_id: str) -> dict[tuple[str, str, str], int]:
        """Finished actions per (rule, action, outcome), counted in the database."""
        d = self._d
        with self._db.read("summarising a retention plan") as conn:
            rows = conn.execute(
                f"SELECT {d.column('rule')}, {d.column('action')}, {d.column('outcome')}, "  # noqa: S608
                "count(*) FROM retention_actions "
                f"WHERE plan_id = {d.placeholder} AND finished_at IS NOT NULL "
                "GROUP BY rule, action, outcome",
                (plan_id,),
            ).fetchall()
        try:
            return {(decode_text(r), decode_text(a), decode_text(o)): int(n) for r, a, o, n in rows}
        except _UNDECODABLE:
            _malformed("a finished retention action")

    def unfinished(self, plan_id: str) -> int:
        """How many of the plan's actions are not finished."""
        with self._db.read("counting open retention actions") as conn:
            (n,) = conn.execute(
                "SELECT count(*) FROM retention_actions "  # noqa: S608 - fixed names and placeholders only
                f"WHERE plan_id = {self._d.placeholder} AND finished_at IS NULL",
                (plan_id,),
            ).fetchone()
        return int(n)


class SqlErasureStore:
    """An :class:`~avgkit.storage.ErasureStore` in the ``erasure*`` tables.

    .. versionadded:: 0.2.0
    """

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db
        self._d = db.dialect
        db.migrate(ERASURES, erasure_migrations(db.dialect))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._db!r})"

    def begin(
        self, entry: ErasureEntry, *, suppressions: Sequence[str], recipients: Sequence[str]
    ) -> bool:
        """Log the erasure as begun with its suppressions and notices; False if begun before."""
        d = self._d
        at = d.instant_in(entry.started_at)
        with self._db.write("logging an erasure") as conn:
            cursor = conn.execute(
                d.insert_ignore("erasures", ("subject_ref", "started_at", "cause"), "subject_ref"),
                (entry.subject_ref, at, entry.cause),
            )
            if cursor.rowcount != 1:
                return False
            for pseudonym in dict.fromkeys(suppressions):
                conn.execute(
                    d.insert_ignore(
                        "erasure_suppressions", ("pseudonym", "subject_ref"), "pseudonym"
                    ),
                    (pseudonym, entry.subject_ref),
                )
            for recipient in dict.fromkeys(recipients):
                conn.execute(
                    "INSERT INTO erasure_notices (recipient, subject_ref, at) "  # noqa: S608 - fixed names and placeholders only
                    f"VALUES ({d.params(3)})",
                    (recipient, entry.subject_ref, at),
                )
        return True

    def complete(self, subject_ref: str, at: datetime) -> bool:
        """Mark the erasure complete; False if it was complete (or never begun)."""
        p = self._d.placeholder
        with self._db.write("completing an erasure") as conn:
            cursor = conn.execute(
                f"UPDATE erasures SET completed_at = {p} "  # noqa: S608 - fixed names
                f"WHERE subject_ref = {p} AND completed_at IS NULL",
                (self._d.instant_in(at), subject_ref),
            )
        return cursor.rowcount == 1

    @property
    def _select(self) -> str:
        d = self._d
        return (
            f"SELECT {d.column('subject_ref')}, {d.column('started_at')}, {d.column('cause')}, "  # noqa: S608 - fixed names and placeholders only
            f"{d.column('completed_at')} FROM erasures"
        )

    def _entry(self, row: Sequence[Any]) -> ErasureEntry:
        d = self._d
        try:
            ref, started, cause, completed = row
            return ErasureEntry(
                subject_ref=decode_text(ref),
                started_at=d.instant_out(started),
                cause=decode_text(cause),
                completed_at=None if completed is None else d.instant_out(completed),
            )
        except _UNDECODABLE:
            _malformed("an erasure log entry")

    def get(self, subject_ref: str) -> ErasureEntry | None:
        """The subject's log entry, or ``None``."""
        with self._db.read("reading the erasure log") as conn:
            row = conn.execute(
                f"{self._select} WHERE subject_ref = {self._d.placeholder}", (subject_ref,)
            ).fetchone()
        return None if row is None else self._entry(row)

    def entries(self) -> Iterator[ErasureEntry]:
        """Stream the log by start time, a page at a time."""
        d = self._d
        p = d.placeholder
        last: tuple[object, str] | None = None
        while True:
            where: str = "1 = 1"
            args: tuple[object, ...] = ()
            if last is not None:
                where, args = f"(started_at, subject_ref) > ({p}, {p})", last
            with self._db.read("reading the erasure log") as conn:
                rows = conn.execute(
                    f"{self._select} WHERE {where} ORDER BY started_at, subject_ref LIMIT {p}",
                    (*args, d.page_size),
                ).fetchall()
            entries = [self._entry(row) for row in rows]
            yield from entries
            if len(rows) < d.page_size:
                return
            final = entries[-1]
            last = (d.instant_in(final.started_at), final.subject_ref)

    def is_suppressed(self, pseudonym: str) -> bool:
        """Whether ``pseudonym`` belongs to an erased subject."""
        with self._db.read("reading the suppression list") as conn:
            row = conn.execute(
                f"SELECT 1 FROM erasure_suppressions WHERE pseudonym = {self._d.placeholder}",  # noqa: S608 - fixed names and placeholders only
                (pseudonym,),
            ).fetchone()
        return row is not None

    def erased_among(self, subject_refs: Sequence[str]) -> frozenset[str]:
        """Those of ``subject_refs`` the log holds, in one query."""
        if not subject_refs:
            return frozenset()
        d = self._d
        with self._db.read("reading the erasure log") as conn:
            rows = conn.execute(
                f"SELECT {d.column('subject_ref')} FROM erasures "  # noqa: S608
                f"WHERE subject_ref IN ({d.params(len(subject_refs))})",
                tuple(subject_refs),
            ).fetchall()
        try:
            return frozenset(decode_text(row[0]) for row in rows)
        except _UNDECODABLE:
            _malformed("an erasure log entry")

    def notices(self, *, after: int = 0) -> Iterator[ErasureNotice]:
        """Stream the erasure notices after ``after``, a page at a time."""
        d = self._d
        p = d.placeholder
        query = (
            f"SELECT seq, {d.column('recipient')}, {d.column('subject_ref')}, {d.column('at')} "  # noqa: S608
            f"FROM erasure_notices WHERE seq > {p} ORDER BY seq LIMIT {p}"
        )
        cursor = after
        while True:
            with self._db.read("reading the outbox") as conn:
                rows = conn.execute(query, (cursor, d.page_size)).fetchall()
            for seq, recipient, ref, at in rows:
                try:
                    notice = ErasureNotice(
                        seq=int(seq),
                        recipient=decode_text(recipient),
                        subject_ref=decode_text(ref),
                        at=d.instant_out(at),
                    )
                except _UNDECODABLE:
                    _malformed(f"erasure notice {seq if isinstance(seq, int) else '?'}")
                yield notice
            if len(rows) < d.page_size:
                return
            cursor = int(rows[-1][0])

    def count(self) -> int:
        """How many subjects the log holds."""
        with self._db.read("counting erasures") as conn:
            (n,) = conn.execute("SELECT count(*) FROM erasures").fetchone()
        return int(n)
