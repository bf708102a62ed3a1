"""The docstore's :class:`~avgkit.storage.RetentionStore`: holds, warnings, staged plans."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Final

from avgkit.errors import IntegrityError
from avgkit.retention import (
    Action,
    ClaimedAction,
    Hold,
    HoldReason,
    Outcome,
    PlannedAction,
    StoredHold,
)
from avgkit.storage.checks import (
    check_forget,
    check_instant,
    check_reference,
    hold_not_found,
)
from avgkit.subjects import SubjectId, subject_id
from avgkit_docstore.codec import (
    from_micros,
    opt_micros,
    stored_int,
    stored_text,
    stored_text_or_none,
    to_micros,
)
from avgkit_docstore.database import DocStoreDatabase, Row

__all__ = ["DocStoreRetentionStore"]

PAGE: Final = 500
"""How many holds :meth:`DocStoreRetentionStore.active_holds` reads per statement."""

_HOLD: Final = "SELECT id, subject, reason, until, placed_at, released_at FROM holds"
_IN_FORCE: Final = "released_at IS NULL AND (until IS NULL OR until > ?)"
_ACTION: Final = (
    "number, subject, rule, action, due, reason, hold, deferred_until, warning, source, "
    "record_key, anchor"
)


def _opt_from(micros: object) -> datetime | None:
    return None if micros is None else from_micros(stored_int(micros))


def _hold(row: Row) -> StoredHold:
    number, subject, reason, until, placed_at, released_at = row
    try:
        return StoredHold(
            id=stored_int(number),
            hold=Hold(
                subject=subject,
                reason=HoldReason(stored_text(reason)),
                until=_opt_from(until),
            ),
            placed_at=from_micros(stored_int(placed_at)),
            released_at=_opt_from(released_at),
        )
    except (ValueError, TypeError) as exc:  # ValidationError is a ValueError
        msg = (
            f"docstore: hold {number} was changed outside avgkit and no longer decodes "
            f"({type(exc).__name__}); restore it from a backup"
        )
        raise IntegrityError(msg) from None


def _claimed(plan_id: str, row: Row) -> ClaimedAction:
    number, subject, rule, action, due, reason, hold, deferred_until = row[:8]
    warning, source, record_key, anchor = row[8:]
    try:
        planned = PlannedAction(
            subject=subject,
            rule=stored_text(rule),
            action=Action(stored_text(action)),
            due=from_micros(stored_int(due)),
            reason=stored_text(reason),
            hold=None if hold is None else HoldReason(stored_text(hold)),
            deferred_until=_opt_from(deferred_until),
            warning=bool(stored_int(warning)),
            source=stored_text_or_none(source),
            record_key=stored_text_or_none(record_key),
            anchor=_opt_from(anchor),
        )
        return ClaimedAction(plan_id=plan_id, number=stored_int(number), action=planned)
    except (ValueError, TypeError) as exc:
        msg = (
            f"docstore: action {number} of plan {plan_id!r} was changed outside avgkit and "
            f"no longer decodes ({type(exc).__name__}); restore it from a backup"
        )
        raise IntegrityError(msg) from None


def _malformed(what: str) -> IntegrityError:
    return IntegrityError(f"docstore: {what} was changed outside avgkit; restore it from a backup")


class DocStoreRetentionStore:
    """A :class:`~avgkit.storage.RetentionStore` in a docstore file.

    Holds and warnings name the host's subject id while the subject lives;
    :meth:`forget_subject` deletes them and re-keys staged actions to the subject's
    reference, in three statements. Claims are made under SQLite's write lock (every write
    begins with ``BEGIN IMMEDIATE``), so two executors, in threads or processes, never get
    the same action from one claim each.

    Args:
        database: the set's database, shared with its other stores.
    """

    def __init__(self, database: DocStoreDatabase) -> None:
        self.database = database

    def __repr__(self) -> str:
        return f"DocStoreRetentionStore({self.database!r})"

    # ------------------------------------------------------------------ holds

    def place_hold(self, hold: Hold, at: datetime) -> StoredHold:
        """Store a new hold placed at ``at``; return it with its number."""
        placed = to_micros(check_instant(at, "at"))
        with self.database.atomic():
            rows = self.database.query(
                "INSERT INTO holds (subject, reason, until, placed_at) VALUES (?, ?, ?, ?) "
                "RETURNING id, subject, reason, until, placed_at, released_at",
                (hold.subject, hold.reason.value, opt_micros(hold.until), placed),
            )
        return _hold(rows[0])

    def release_hold(self, hold_id: int, at: datetime) -> StoredHold:
        """Release hold ``hold_id`` at ``at`` (again: no change); NotFound if unknown."""
        released = to_micros(check_instant(at, "at"))
        db = self.database
        with db.atomic():
            db.execute(
                "UPDATE holds SET released_at = ? WHERE id = ? AND released_at IS NULL",
                (released, hold_id),
            )
            row = db.one(f"{_HOLD} WHERE id = ?", (hold_id,))
        if row is None:
            raise hold_not_found(hold_id)
        return _hold(row)

    def holds_for(self, subject: SubjectId, at: datetime) -> tuple[StoredHold, ...]:
        """The subject's holds in force at ``at``, oldest first."""
        sid = subject_id(subject)
        when = to_micros(check_instant(at, "at"))
        rows = self.database.query(
            f"{_HOLD} WHERE subject = ? AND {_IN_FORCE} ORDER BY id",
            (sid, when),
        )
        return tuple(_hold(row) for row in rows)

    def active_holds(self, at: datetime) -> Iterator[StoredHold]:
        """Stream every hold in force at ``at``, a page at a time (by number)."""
        when = to_micros(check_instant(at, "at"))
        return self._active(when)  # checked above, at the call; streamed from here

    def _active(self, when: int) -> Iterator[StoredHold]:
        after = 0
        while True:
            rows = self.database.query(
                f"{_HOLD} WHERE id > ? AND {_IN_FORCE} ORDER BY id LIMIT ?",
                (after, when, PAGE),
            )
            for row in rows:
                yield _hold(row)
            if len(rows) < PAGE:
                return
            after = stored_int(rows[-1][0])

    # ------------------------------------------------------------------ warnings

    def warned_at(self, subject: SubjectId, rule: str, anchor: datetime) -> datetime | None:
        """When the subject was warned of ``rule``'s action for the trigger at ``anchor``."""
        sid = subject_id(subject)
        row = self.database.one(
            "SELECT warned_at FROM warnings WHERE rule = ? AND subject = ? AND anchor = ?",
            (rule, sid, to_micros(check_instant(anchor, "anchor"))),
        )
        if row is None:
            return None
        try:
            return from_micros(stored_int(row[0]))
        except TypeError:
            raise _malformed(f"a warning of rule {rule!r}") from None

    def warnings_for(
        self, rule: str, subjects: Sequence[SubjectId]
    ) -> dict[tuple[SubjectId, datetime], datetime]:
        """Every warning of ``rule`` to one of ``subjects``, in one query."""
        wanted = sorted({subject_id(s) for s in subjects})
        if not wanted:
            return {}
        # The subjects go in as one JSON parameter, so the SQL text is the same for any page.
        rows = self.database.query(
            "SELECT subject, anchor, warned_at FROM warnings WHERE rule = ? "
            "AND subject IN (SELECT value FROM json_each(?))",
            (rule, json.dumps(wanted)),
        )
        try:
            return {
                (SubjectId(stored_text(s)), from_micros(stored_int(a))): from_micros(stored_int(w))
                for s, a, w in rows
            }
        except TypeError:
            raise _malformed(f"a warning of rule {rule!r}") from None

    def record_warning(self, subject: SubjectId, rule: str, anchor: datetime, at: datetime) -> None:
        """Remember that the subject was warned at ``at`` (a second call changes nothing)."""
        sid = subject_id(subject)
        start = to_micros(check_instant(anchor, "anchor"))
        sent = to_micros(check_instant(at, "at"))
        with self.database.atomic():
            self.database.execute(
                "INSERT INTO warnings (subject, rule, anchor, warned_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (sid, rule, start, sent),
            )

    # ------------------------------------------------------------------ erasure

    def forget_subject(self, subject: SubjectId, reference: str) -> int:
        """Delete the subject's holds and warnings; re-key its actions (3 statements)."""
        raw, ref = check_forget(subject, reference)
        db = self.database
        with db.atomic():
            holds = db.execute("DELETE FROM holds WHERE subject = ?", (raw,))
            warnings = db.execute("DELETE FROM warnings WHERE subject = ?", (raw,))
            actions = db.execute("UPDATE actions SET subject = ? WHERE subject = ?", (ref, raw))
        return holds + warnings + actions

    # ------------------------------------------------------------------ plans

    def stage(
        self, plan_id: str, fingerprint: str, at: datetime, actions: Iterator[PlannedAction]
    ) -> int:
        """Store the plan's actions in one transaction; 0 (reading none) if staged before.

        An action whose target the plan has already (same rule, kind and subject or record)
        is skipped, as the memory adapter does.
        """
        planned = to_micros(check_instant(at, "at"))
        db = self.database
        with db.atomic():
            new = db.execute(
                "INSERT INTO plans (plan_id, fingerprint, planned_at) VALUES (?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (plan_id, fingerprint, planned),
            )
            if new == 0:
                return 0
            staged = 0
            for action in actions:
                staged += db.execute(
                    f"INSERT INTO actions (plan_id, item, {_ACTION}) "  # noqa: S608 - constants
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (
                        plan_id,
                        action.item,
                        staged + 1,
                        action.subject,
                        action.rule,
                        action.action.value,
                        to_micros(action.due),
                        action.reason,
                        None if action.hold is None else action.hold.value,
                        opt_micros(action.deferred_until),
                        int(action.warning),
                        action.source,
                        action.record_key,
                        opt_micros(action.anchor),
                    ),
                )
            # The items name subjects; with the plan staged they have done their work.
            db.execute("UPDATE actions SET item = NULL WHERE plan_id = ?", (plan_id,))
            return staged

    def plan_fingerprint(self, plan_id: str) -> str | None:
        """The fingerprint a staged plan was made under (``None``: not staged)."""
        row = self.database.one("SELECT fingerprint FROM plans WHERE plan_id = ?", (plan_id,))
        if row is None:
            return None
        try:
            return stored_text(row[0])
        except TypeError:
            raise _malformed(f"plan {plan_id!r}") from None

    def claim(
        self,
        plan_id: str,
        executor: str,
        at: datetime,
        *,
        limit: int,
        stale_before: datetime,
    ) -> tuple[ClaimedAction, ...]:
        """Claim up to ``limit`` free actions in number order, in one statement."""
        now = to_micros(check_instant(at, "at"))
        stale = to_micros(check_instant(stale_before, "stale_before"))
        if limit < 1:  # SQLite reads a negative LIMIT as none at all
            return ()
        with self.database.atomic():
            rows = self.database.query(
                "UPDATE actions SET claimed_by = ?, claimed_at = ? "  # noqa: S608 - constants
                "WHERE plan_id = ? AND number IN (SELECT number FROM actions "
                "WHERE plan_id = ? AND finished_at IS NULL "
                "AND (claimed_at IS NULL OR claimed_at <= ?) ORDER BY number LIMIT ?) "
                f"RETURNING {_ACTION}",
                (executor, now, plan_id, plan_id, stale, limit),
            )
        # RETURNING gives the rows in no promised order.
        return tuple(sorted((_claimed(plan_id, row) for row in rows), key=lambda c: c.number))

    def finish(
        self,
        plan_id: str,
        number: int,
        outcome: Outcome,
        at: datetime,
        *,
        subject_ref: str | None,
    ) -> bool:
        """Mark an action finished; False if it was before. ``subject_ref`` replaces the id."""
        done = to_micros(check_instant(at, "at"))
        ref = None if subject_ref is None else check_reference(subject_ref)
        with self.database.atomic():
            changed = self.database.execute(
                "UPDATE actions SET finished_at = ?, outcome = ?, subject = coalesce(?, subject) "
                "WHERE plan_id = ? AND number = ? AND finished_at IS NULL",
                (done, outcome.value, ref, plan_id, number),
            )
        return changed == 1

    def outcomes(self, plan_id: str) -> dict[tuple[str, str, str], int]:
        """Finished actions per (rule, action, outcome), counted in the file."""
        rows = self.database.query(
            "SELECT rule, action, outcome, count(*) FROM actions "
            "WHERE plan_id = ? AND finished_at IS NOT NULL GROUP BY rule, action, outcome",
            (plan_id,),
        )
        try:
            return {
                (stored_text(r), stored_text(a), stored_text(o)): stored_int(n)
                for r, a, o, n in rows
            }
        except TypeError:
            raise _malformed(f"a finished action of plan {plan_id!r}") from None

    def unfinished(self, plan_id: str) -> int:
        """How many of the plan's actions are not finished."""
        row = self.database.one(
            "SELECT count(*) FROM actions WHERE plan_id = ? AND finished_at IS NULL", (plan_id,)
        )
        return 0 if row is None else stored_int(row[0])
